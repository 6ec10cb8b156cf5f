import { EventEmitter } from 'node:events';
import { ServerBusyError } from '../../../src/common/errors';
import { loadConfig } from '../../../src/config/config';
import { LoadService } from '../../../src/load/load.service';
import type { MediaSupervisor } from '../../../src/media/media-supervisor.service';
import type { MediaNotification } from '../../../workers/protocol/media';

/** The supervisor as LoadService sees it: live room ids and worker notifications. */
class FakeSupervisor extends EventEmitter {
  rooms: string[] = [];
  roomIds(): string[] {
    return this.rooms;
  }
  report(roomId: string, loopDelayP99Ms: number): void {
    const n: MediaNotification = {
      event: 'room.load',
      data: {
        tickLatenessP95Ms: 1,
        skippedTicks: 0,
        loopDelayP99Ms,
        encoderBacklogFrames: 0,
        qualityLevel: 0,
      },
    };
    this.emit('notification', roomId, n);
  }
}

function service(env: Record<string, string> = {}) {
  const supervisor = new FakeSupervisor();
  const load = new LoadService(
    // Per-peer units: a new call costs 1 (capacity-model.spec.ts covers the shared table).
    loadConfig({ NODE_CAPACITY: '4', VIDEO_ENCODE: 'per-peer', ...env }),
    supervisor as unknown as MediaSupervisor,
  );
  load.onModuleInit();
  return { load, supervisor };
}

describe('LoadService', () => {
  let committed = 0;
  const ids = { roomId: 'r', identity: 'i' };

  it('holds the units of joins under way, so concurrent joins cannot both take the last place', () => {
    const { load } = service();
    load.setCommittedSource(() => committed);
    committed = 2; // limit 0.85 × 4 = 3.4 units
    const first = load.admit(1, ids);
    expect(load.snapshot()).toMatchObject({ capacity: 4, committed: 3, full: true });
    expect(() => load.admit(1, ids)).toThrow(ServerBusyError);
    first.release();
    first.release(); // idempotent
    expect(load.snapshot()).toMatchObject({ committed: 2, full: false });
    expect(() => load.admit(1, ids).release()).not.toThrow();
    load.onApplicationShutdown();
  });

  it('counts a worker lagging in two reports in a row, not one, and forgets rooms that ended', () => {
    const { load, supervisor } = service();
    load.setCommittedSource(() => 0);
    supervisor.rooms = ['a'];
    supervisor.report('a', 900);
    expect(load.snapshot()).toMatchObject({ loopDelayMs: 0, full: false });
    supervisor.report('a', 400);
    expect(load.snapshot()).toMatchObject({ loopDelayMs: 400, full: true });
    expect(() => load.admit(0.2, ids)).toThrow(/falling behind/);
    supervisor.rooms = [];
    expect(load.snapshot()).toMatchObject({ loopDelayMs: 0, full: false });
    load.onApplicationShutdown();
  });

  it('measures the CPU of its own process tree as a fraction of the machine', async () => {
    const { load } = service();
    const until = Date.now() + 300;
    while (Date.now() < until); // some CPU to see
    await new Promise((r) => setTimeout(r, 50));
    (load as unknown as { sampleCpu(): void }).sampleCpu();
    const { cpuLoad } = load.snapshot();
    expect(cpuLoad).toBeGreaterThan(0);
    expect(cpuLoad).toBeLessThanOrEqual(1);
    load.onApplicationShutdown();
  });
});
