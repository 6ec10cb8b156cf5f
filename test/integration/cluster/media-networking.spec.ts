import { randomBytes } from 'node:crypto';
import { BLUE, joinRoom, RED } from '../../helpers/live-room';
import { frameContainsColour, rgbToYuv } from '../../helpers/media-analysis';
import { spawnServer, type ServerProcess } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import { startTurnServer, type TurnServer } from '../../helpers/turn-server';
import type { TestClient } from '../../helpers/wrtc-client';

interface Candidate {
  address: string;
  port: number;
  type: string;
}

/** `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>` */
function parseCandidate(line: string): Candidate {
  const f = line.replace(/^a=/, '').split(' ');
  return { address: f[4], port: Number(f[5]), type: f[7] };
}

/** Every candidate the server gave this client: in its SDP and trickled over signaling. */
function serverCandidates(c: TestClient): Candidate[] {
  const inSdp = (c.pc.remoteDescription?.sdp ?? '')
    .split(/\r?\n/)
    .filter((l) => l.startsWith('a=candidate:'));
  const trickled = c
    .eventsNamed('ice')
    .map((d) => (d as { candidate: { candidate: string } | null }).candidate?.candidate)
    .filter((x): x is string => !!x);
  return [...inSdp, ...trickled].map(parseCandidate);
}

interface StatsEntry {
  id: string;
  type: string;
  state?: string;
  nominated?: boolean;
  localCandidateId?: string;
  remoteCandidateId?: string;
  candidateType?: string;
  port?: number;
  address?: string;
  ip?: string;
}

/** The candidate pair the client's ICE agent is using, with both ends (the stats may lag media). */
async function selectedPair(c: TestClient): Promise<{ local: StatsEntry; remote: StatsEntry }> {
  const all = new Map<string, StatsEntry>();
  let pair: StatsEntry | undefined;
  for (const deadline = Date.now() + 15000; !pair && Date.now() < deadline;) {
    all.clear();
    (await c.pc.getStats()).forEach((s: StatsEntry) => all.set(s.id, s));
    pair = [...all.values()].find(
      (s) => s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated,
    );
    if (!pair) await new Promise((r) => setTimeout(r, 200));
  }
  if (!pair) throw new Error('no nominated candidate pair within 15 s');
  return {
    local: all.get(pair.localCandidateId ?? '') as StatsEntry,
    remote: all.get(pair.remoteCandidateId ?? '') as StatsEntry,
  };
}

async function seesColour(c: TestClient, colour: typeof RED, what: string): Promise<void> {
  const yuv = rgbToYuv(colour);
  await waitFor(() => !!c.latestFrame && frameContainsColour(c.latestFrame, yuv), 30000, what);
}

describe('media networking of a node', () => {
  const clients: TestClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('ANNOUNCED_IP is the only host address clients are given; RTC_MIN_PORT..RTC_MAX_PORT bound the ports in use', async () => {
    const min = 42000 + Math.floor(Math.random() * 5000);
    const max = min + 30;
    const node = await spawnServer({
      ANNOUNCED_IP: '127.0.0.1',
      RTC_MIN_PORT: String(min),
      RTC_MAX_PORT: String(max),
    });
    try {
      const alice = await joinRoom(node, 'nat', 'alice', { colour: RED });
      const bob = await joinRoom(node, 'nat', 'bob', { colour: BLUE });
      clients.push(alice, bob);
      await seesColour(bob, RED, "alice's red tile at bob");
      await seesColour(alice, BLUE, "bob's blue tile at alice");

      for (const c of [alice, bob]) {
        const host = serverCandidates(c).filter((x) => x.type === 'host');
        expect(host.length).toBeGreaterThan(0);
        for (const x of host) {
          expect(x.address).toBe('127.0.0.1');
          expect(x.port).toBeGreaterThanOrEqual(min);
          expect(x.port).toBeLessThanOrEqual(max);
        }
        // The port the server really sends and receives on (the client's remote end).
        const { remote } = await selectedPair(c);
        expect(remote.port).toBeGreaterThanOrEqual(min);
        expect(remote.port).toBeLessThanOrEqual(max);
      }
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await node.stop();
    }
  });

  describe('TURN', () => {
    let turn: TurnServer;
    let node: ServerProcess;

    beforeAll(async () => {
      turn = await startTurnServer(randomBytes(16).toString('hex'));
      node = await spawnServer({ TURN_URLS: turn.url, TURN_SECRET: turn.secret, TURN_TTL_S: '600' });
    });

    afterAll(async () => {
      await node?.stop();
      await turn?.stop();
    });

    it('a client restricted to relay candidates joins with the credentials it was given and receives the room', async () => {
      const alice = await joinRoom(node, 'turn', 'alice', { colour: RED });
      clients.push(alice);
      const started = Math.floor(Date.now() / 1000);
      const bob = await joinRoom(node, 'turn', 'bob', { colour: BLUE, iceTransportPolicy: 'relay' });
      clients.push(bob);

      const given = bob.joined.iceServers.find((s) => JSON.stringify(s.urls).includes(turn.url));
      expect(given).toBeDefined();
      const [expiry, identity] = String(given?.username).split(':');
      expect(identity).toBe('bob');
      expect(Number(expiry)).toBeGreaterThanOrEqual(started + 600);
      expect(Number(expiry)).toBeLessThan(started + 660);

      await seesColour(bob, RED, "alice's red tile at the relay-only client");
      const { local } = await selectedPair(bob);
      expect(local.candidateType).toBe('relay');
      // The address coturn allocated for bob: its relay range, on this machine.
      expect(local.port).toBeGreaterThanOrEqual(turn.relayPorts.min);
      expect(local.port).toBeLessThanOrEqual(turn.relayPorts.max);
    });

    it('a client with a wrong credential cannot get relay candidates', async () => {
      const { RTCPeerConnection } = await import('@roamhq/wrtc');
      const pc = new RTCPeerConnection({
        iceServers: [
          { urls: turn.url, username: `${Math.floor(Date.now() / 1000) + 600}:eve`, credential: 'wrong' },
        ],
        iceTransportPolicy: 'relay',
      });
      const relay: string[] = [];
      pc.onicecandidate = (e) => e.candidate && relay.push(e.candidate.candidate);
      pc.addTransceiver('audio', { direction: 'recvonly' });
      await pc.setLocalDescription(await pc.createOffer());
      await waitFor(() => pc.iceGatheringState === 'complete', 20000, 'ICE gathering to finish');
      pc.close();
      expect(relay).toEqual([]);
    });
  });
});
