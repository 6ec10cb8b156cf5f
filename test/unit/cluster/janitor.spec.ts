import { Janitor } from '../../../src/cluster/janitor.service';
import type { NodeRecord, NodeRegistry } from '../../../src/cluster/node-registry.service';
import type { RoomDirectory } from '../../../src/cluster/room-directory.service';
import { loadConfig } from '../../../src/config/config';
import type { RedisService } from '../../../src/redis/redis.module';

/** The janitor's rules over a scripted registry and Redis (the real ones run in the cluster tests). */
function setUp() {
  const state = {
    nodes: [] as Pick<NodeRecord, 'id' | 'bootId'>[],
    redisUptimeS: 3600,
    redisDown: false,
    locks: new Set<string>(),
    cleared: [] as string[],
  };
  const config = loadConfig({
    REDIS_URL: 'redis://127.0.0.1:1',
    NODE_ID: 'self',
    ADMIN_API_KEY: 'admin-key-of-16-chars',
    JWT_SECRET: 'a-jwt-secret-of-at-least-32-characters',
    WEBHOOK_SECRET: 'webhook-secret-16',
  });
  const registry = {
    list: async () => {
      if (state.redisDown) throw new Error('connection refused');
      return state.nodes;
    },
    onTick: () => undefined,
  } as unknown as NodeRegistry;
  const redis = {
    client: {
      info: async () => `# Server\r\nuptime_in_seconds:${state.redisUptimeS}\r\n`,
      set: async (key: string) => (state.locks.has(key) ? null : (state.locks.add(key), 'OK')),
    },
  } as unknown as RedisService;
  const directory = {
    clearNode: async (id: string) => {
      state.cleared.push(id);
      return [`room-of-${id}`];
    },
    // Members are kept per process: the lost process's bootId selects them.
    takeMembersOf: async (id: string, bootId: string) =>
      new Map([[`room-of-${id}`, [{ participantId: `p-${bootId}`, identity: 'alice' }]]]),
  } as unknown as RoomDirectory;
  const janitor = new Janitor(config, redis, registry, directory);
  const lost: string[] = [];
  const roomsLost: string[][] = [];
  const membersLost: string[] = [];
  janitor.on('node-lost', (id) => lost.push(id));
  janitor.on('rooms-lost', (_id, rooms, process) => {
    roomsLost.push(rooms);
    for (const [roomId, members] of process.members)
      for (const m of members) membersLost.push(`${roomId}/${m.participantId}@${process.bootId}`);
  });
  return { state, janitor, lost, roomsLost, membersLost };
}

describe('Janitor', () => {
  it('declares a node lost when its entry is gone, once, and clears its rooms under a lock', async () => {
    const { state, janitor, lost, roomsLost, membersLost } = setUp();
    state.nodes = [
      { id: 'self', bootId: 's1' },
      { id: 'b', bootId: 'b1' },
    ];
    await janitor.scan();
    expect(lost).toEqual([]);
    state.nodes = [{ id: 'self', bootId: 's1' }];
    await janitor.scan();
    await janitor.scan();
    expect(lost).toEqual(['b']);
    expect(roomsLost).toEqual([['room-of-b']]);
    // Who was in its rooms, for their participant.left webhooks.
    expect(membersLost).toEqual(['room-of-b/p-b1@b1']);
  });

  it('declares a node lost when it is back under another bootId (it restarted without its rooms)', async () => {
    const { state, janitor, lost } = setUp();
    state.nodes = [{ id: 'b', bootId: 'b1' }];
    await janitor.scan();
    state.nodes = [{ id: 'b', bootId: 'b2' }];
    await janitor.scan();
    expect(lost).toEqual(['b']);
  });

  it('does not trust absence from a Redis that just restarted, nor right after a failed scan', async () => {
    const { state, janitor, lost } = setUp();
    state.nodes = [{ id: 'b', bootId: 'b1' }];
    await janitor.scan();
    state.redisDown = true;
    await expect(janitor.scan()).rejects.toThrow('connection refused');
    state.redisDown = false;
    state.redisUptimeS = 1;
    state.nodes = [];
    await janitor.scan(); // restarted Redis: b has not written its entry again yet
    await janitor.scan();
    expect(lost).toEqual([]);
    state.nodes = [{ id: 'b', bootId: 'b1' }]; // b is back within its refresh period
    await janitor.scan();
    state.redisUptimeS = 3600;
    await janitor.scan();
    expect(lost).toEqual([]);
  });

  it('lets only one node clean up after a lost node (the lock), but every node hears of it', async () => {
    const one = setUp();
    const two = setUp();
    two.state.locks = one.state.locks;
    for (const n of [one, two]) {
      n.state.nodes = [{ id: 'b', bootId: 'b1' }];
      await n.janitor.scan();
      n.state.nodes = [];
      await n.janitor.scan();
    }
    expect([one.lost, two.lost]).toEqual([['b'], ['b']]);
    expect(one.state.cleared.length + two.state.cleared.length).toBe(1);
  });
});
