import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ParticipantInfo } from '../../src/rooms/rooms.schemas';
import { api, ensureRoom, token } from '../helpers/api';
import { joinRoom, RED } from '../helpers/live-room';
import { goertzel } from '../helpers/media-analysis';
import { freePort } from '../helpers/redis-process';
import { startTestServer } from '../helpers/server';
import { canShapeLinks, createShapedLink, type ShapedLink } from '../helpers/shaped-link';
import { waitFor } from '../helpers/signal';
import type { TestClient } from '../helpers/wrtc-client';
import { buildPublic, joinByLink, launchChromium, newPage, waitForStats } from './helpers/browser';
import { busyCameraY4m } from './helpers/page-media';

const ROOM = 'weak-uplink-page';

/**
 * A browser behind a weak uplink (issue #15 item 3), the real page in Debian's Chromium: the
 * browser runs in a network namespace of its own and everything it sends crosses a tbf of
 * 3000 kbit/s, then 150, then free again. Its camera is a busy picture (fresh noise everywhere)
 * that 150 kbit/s cannot carry whole; its microphone a 440 Hz tone. A wrtc listener on this
 * machine hears the room. The mechanism, end to end: the server tells the page its uplink is
 * weak, the page sends a smaller picture and says so, the listener keeps hearing the browser
 * throughout, and once the link is free the page is told `good` and sends its full width again.
 * Needs root (ip netns, tc).
 */
(canShapeLinks() ? describe : describe.skip)(
  'the join page behind a weak uplink (Chromium in a network namespace)',
  () => {
    let link: ShapedLink;
    let server: Awaited<ReturnType<typeof startTestServer>>;
    let browser: Browser;
    let context: BrowserContext | null = null;
    let page: Page;
    let listener: TestClient | null = null;
    let dir: string;

    beforeAll(async () => {
      buildPublic();
      link = createShapedLink('wp', '10.236');
      server = await startTestServer({ HOST: link.hostIp, PORT: String(await freePort()) });
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-weak-uplink-'));
      browser = await launchChromium({
        cameraY4m: busyCameraY4m(dir),
        netns: link.ns,
        secureOrigin: server.url,
      });
    });

    afterAll(async () => {
      await context?.close().catch(() => undefined);
      await browser?.close();
      await listener?.close();
      await server?.close();
      link?.destroy();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('is told its uplink is weak, sends a smaller picture and says so, is heard throughout, and recovers once the link is free', async () => {
      await ensureRoom(server, ROOM, { name: 'Weak uplink' });
      // The listener's own tone is another frequency: what it hears at 440 Hz is the browser.
      listener = await joinRoom(server, ROOM, 'listener', { colour: RED, toneHz: 1000 });
      const hears440 = () => goertzel(listener!.recentAudio(1000), listener!.audioSampleRate, 440);

      link.shapeUplink(3000);
      ({ context, page } = await newPage(browser));
      const t = await token(server, ROOM, { identity: 'remote', displayName: 'Remote' });
      const joined = await joinByLink(page, server.url, ROOM, t);
      const me = joined.participantId;
      const remoteUplink = async (): Promise<ParticipantInfo['uplink']> => {
        const res = await api<{ participants: ParticipantInfo[] }>(server, `/api/rooms/${ROOM}/participants`);
        return res.body.participants.find((p) => p.participantId === me)?.uplink;
      };

      // 1. A free link: the page sends its full width, the room hears it, the server says good.
      await waitForStats(page, (s) => s.sendWidth === 640, 'the page sending 640 px');
      await waitFor(() => hears440() > 0.2, 30000, "the browser's tone in the room");
      const deadline = Date.now() + 30000;
      let up: ParticipantInfo['uplink'];
      while (Date.now() < deadline && !(up?.fps && up.fps > 0)) {
        up = await remoteUplink();
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(up?.state).toBe('good');

      // 2. 150 kbit/s: the busy picture cannot get through whole. The server's verdict reaches
      // the page, which halves its picture and says why.
      link.shapeUplink(150);
      const weak = await waitForStats(page, (s) => s.uplink?.state === 'weak', 'uplink-quality weak', 60000);
      expect(weak.uplink!.fps < 8 || weak.uplink!.lossPct >= 5).toBe(true);
      await waitForStats(page, (s) => s.sendWidth === 320, 'the page sending 320 px while weak');
      await page.locator('#uplink', { hasText: 'your connection is weak' }).waitFor({ timeout: 10000 });
      expect((await remoteUplink())?.state).toBe('weak');
      // Audio stays: the room still hears the browser over the narrow link.
      await waitFor(() => hears440() > 0.2, 10000, 'the tone over the narrow uplink');

      // 3. Free again: `good` after the hysteresis, the full width again, still heard.
      link.shapeUplink(10000);
      await waitForStats(page, (s) => s.uplink?.state === 'good', 'uplink-quality good', 60000);
      await waitForStats(page, (s) => s.sendWidth === 640, 'the page sending 640 px again');
      await waitFor(() => hears440() > 0.2, 10000, 'the tone once the link is free');
    }, 240_000);
  },
);
