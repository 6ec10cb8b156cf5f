import type { ChildProcess } from 'node:child_process';
import type { ProfileChangedEvent } from '../../../workers/protocol/signaling';
import { ensureRoom, token } from '../../helpers/api';
import { BLUE, GREEN, joinRoom, RED } from '../../helpers/live-room';
import { rgbToYuv, yuvDistance, type Yuv } from '../../helpers/media-analysis';
import { sample } from '../../helpers/metrics';
import { freePort } from '../../helpers/redis-process';
import { ROOT, spawnServer, type ServerProcess } from '../../helpers/server';
import { canShapeLinks, createShapedLink, followJsonLines, type ShapedLink } from '../../helpers/shaped-link';
import { waitFor } from '../../helpers/signal';
import type { TestClient } from '../../helpers/wrtc-client';

/**
 * Adaptive downlink (issue #15 item 2) over a real constrained link. One receiver runs in a
 * network namespace of its own, joined to this machine by a veth pair; the host side of the
 * pair has a tbf qdisc, so everything the server sends to that receiver (and nothing else)
 * crosses a link of a set rate: 3000 kbit/s, then 300, then 3000 again. Three publishers with
 * busy pictures (noise) stay on the host, unconstrained. The test asserts the mechanism: the
 * receiver, asking for `standard`, is stepped down to `low` with a `profile-changed` event
 * (reason `bandwidth`) while the link is narrow, its picture keeps coming at the smaller size,
 * and it is stepped back to `standard` once the link is free. Timings are the benchmark's
 * (bench adaptive-downlink). Needs root (ip netns, tc).
 *
 * The same runs with VIDEO_ENCODE=shared (issue #17): the receiver is then an RTP-level member
 * switched between the profiles' shared encodes, and a step up it is not vouched for is first
 * tried with padding on its RTX stream (a padding probe); the way back to `standard` must go
 * through one that the link carried.
 */
interface ViewerLine {
  stage?: string;
  frames?: number;
  size?: { width: number; height: number } | null;
  cells?: Yuv[];
  maxGapMs?: number;
  profileEvents?: (ProfileChangedEvent & { at: number })[];
  error?: string;
}

(canShapeLinks() ? describe : describe.skip)(
  'adaptive downlink on a constrained link (network namespace, tbf)',
  () => {
    let link: ShapedLink;
    let viewer: ChildProcess | null = null;
    const clients: TestClient[] = [];
    let node: ServerProcess | null = null;

    beforeAll(() => {
      link = createShapedLink('dl', '10.233');
    });

    afterAll(() => link?.destroy());

    afterEach(async () => {
      viewer?.kill('SIGTERM');
      viewer = null;
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await node?.stop();
      node = null;
    });

    /** The scenario, on a server with `env` added; returns the server's log lines. */
    const narrowThenFree = async (env: Record<string, string>, roomId: string): Promise<string[]> => {
      const port = await freePort();
      // A short recovery time keeps the test bounded; the mechanism is the same as with 15 s.
      node = await spawnServer({
        HOST: link.hostIp,
        PORT: String(port),
        DOWNLINK_RECOVER_MS: '8000',
        ...env,
      });
      await ensureRoom(node, roomId);
      for (const [name, colour] of [
        ['red', RED],
        ['green', GREEN],
        ['blue', BLUE],
      ] as const)
        clients.push(await joinRoom(node, roomId, name, { colour, noise: true, toneHz: 440 }));
      link.shape(3000);

      const t = await token(node, roomId, { identity: 'constrained', role: 'viewer' });
      const proc = link.spawnNode('test/fixtures/netns/downlink-viewer.js', {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          MCU_URL: node.url,
          MCU_ROOM: roomId,
          MCU_TOKEN: t,
          MCU_PROFILE: 'standard',
        },
        stderr: 'inherit',
      });
      viewer = proc;
      let last: ViewerLine = {};
      let framesAt: { frames: number; at: number }[] = [];
      followJsonLines<ViewerLine>(proc, (line) => {
        last = line;
        framesAt.push({ frames: line.frames ?? 0, at: Date.now() });
      });
      /** The worker's adaptation steps with the figures that decided them (to read a failure). */
      const steps = () =>
        (node?.lines ?? []).filter((l) => l.includes('downlink adaptation step')).join('\n');
      const stuck = (err: Error): never => {
        const l = { ...last, cells: undefined };
        throw new Error(`${err.message}; the receiver's last line: ${JSON.stringify(l)}; steps:\n${steps()}`);
      };
      const events = (): ProfileChangedEvent[] => last.profileEvents ?? [];
      const bandwidthTo = (p: string) => events().some((e) => e.reason === 'bandwidth' && e.profile === p);
      const seesPublishers = () =>
        [RED, GREEN, BLUE].some((c) => (last.cells ?? []).some((y) => yuvDistance(y, rgbToYuv(c)) < 30));
      /** Frames arrived over the last `ms` (from the receiver's own counts). */
      const framesOver = (ms: number) => {
        const now = Date.now();
        const recent = framesAt.filter((f) => now - f.at <= ms);
        return recent.length < 2 ? 0 : recent[recent.length - 1].frames - recent[0].frames;
      };

      // 1. The free link carries standard: 640x360 pictures of the publishers, and no step down.
      await waitFor(
        () => !!last.error || ((last.frames ?? 0) > 30 && last.size?.width === 640 && seesPublishers()),
        40000,
        'standard (640x360) pictures of the publishers at the receiver',
      ).catch(stuck);
      expect(last.error).toBeUndefined();
      await new Promise((r) => setTimeout(r, 8000)); // past the controller's warm-up, on the free link
      if (events().some((e) => e.reason === 'bandwidth'))
        throw new Error(`stepped down on the free link: ${JSON.stringify(events())}; steps:\n${steps()}`);

      // 2. 300 kbit/s: standard does not fit, low does.
      link.shape(300);
      await waitFor(() => !!last.error || bandwidthTo('low'), 40000, 'a step down to low').catch(stuck);
      const down = events().filter((e) => e.reason === 'bandwidth');
      expect(down[0]).toMatchObject({ profile: 'low', requested: 'standard', pinned: false });
      // Counted in the metrics.
      const metrics = await (await fetch(`${node.url}/metrics`)).text();
      expect(
        sample(metrics, 'mcu_downlink_profile_changes_total', { reason: 'bandwidth', direction: 'down' }),
      ).toBeGreaterThanOrEqual(1);
      // Its picture keeps coming, at the smaller profile, showing the publishers.
      framesAt = [];
      await waitFor(
        () => last.size?.width === 320 && framesOver(4000) >= 10 && seesPublishers(),
        30000,
        'low (320x180) pictures keep arriving over the narrow link',
      ).catch(stuck);
      // The others are not constrained: a publisher still receives the room.
      const before = clients[0].framesReceived;
      await waitFor(
        () => clients[0].framesReceived > before + 10,
        10000,
        'frames at an unconstrained publisher',
      );

      // 3. The link is free again: the receiver is stepped back up to what it asked for.
      link.shape(3000);
      await waitFor(() => !!last.error || bandwidthTo('standard'), 60000, 'a step back up to standard').catch(
        stuck,
      );
      await waitFor(
        () => last.size?.width === 640 && seesPublishers(),
        20000,
        'standard pictures again',
      ).catch(stuck);
      expect(events()[events().length - 1]).toMatchObject({ reason: 'bandwidth', requested: 'standard' });
      link.shape(3000);
      return [...node.lines];
    };

    it('per peer: steps a receiver whose link narrows down to low (profile-changed, bandwidth), keeps its picture coming, and back up once the link is free', async () => {
      await narrowThenFree({ VIDEO_ENCODE: 'per-peer' }, 'downlink');
    }, 150_000);

    it('the same with shared encodes: the receiver switches streams, and goes back up through a padding probe the link carried', async () => {
      const lines = await narrowThenFree({ VIDEO_ENCODE: 'shared' }, 'downlink-shared');
      const logged = (msg: string) =>
        lines
          .filter((l) => l.includes(`"msg":"${msg}"`))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      const steps = logged('downlink adaptation step');
      expect(steps.map((l) => l.step)).toEqual(expect.arrayContaining(['down', 'up']));
      const ended = logged('downlink probe ended');
      const started = logged('downlink probe started');
      expect(started.length).toBeGreaterThanOrEqual(1);
      expect(started[0]).toMatchObject({ profile: 'standard', started: true });
      expect(started[0].paddingKbps).toBeGreaterThan(0);
      // The step back up came from a probe that ended in it, logged just before the step.
      const lastIndex = (text: string) => lines.map((l) => l.includes(text)).lastIndexOf(true);
      const lastUp = lastIndex('"step":"up"');
      const probeUp = lastIndex('"outcome":"step-up"');
      expect(probeUp).toBeGreaterThanOrEqual(0);
      expect(probeUp).toBeLessThan(lastUp);
      expect(ended[ended.length - 1]).toMatchObject({ profile: 'standard', outcome: 'step-up' });
    }, 150_000);
  },
);
