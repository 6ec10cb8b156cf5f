import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RoomStats } from '../../workers/protocol/media';
import type { Rgb } from '../../workers/media/engine/video/i420';
import { MediaSupervisor } from '../../src/media/media-supervisor.service';
import { ensureRoom, token } from '../helpers/api';
import { frameContainsColour, goertzel, rgbToYuv } from '../helpers/media-analysis';
import { joinRoom, RED } from '../helpers/live-room';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/signal';
import type { TestClient } from '../helpers/wrtc-client';
import { buildPublic, joinByLink, launchChromium, newPage } from './helpers/browser';
import { capturePeerConnection, pollPage, showsColour, solidCameraY4m } from './helpers/page-media';

const ROOM = 'shared-encode-call';
const CAMERA: Rgb = { r: 40, g: 200, b: 60 };
const CHROMIUM_TONE_HZ = 440;
const WRTC_TONE_HZ = 880;
const TONES = [CHROMIUM_TONE_HZ, WRTC_TONE_HZ];

/**
 * The unchanged join page in Debian's Chromium against a server with VIDEO_ENCODE=shared
 * (issue #17): the browser's VP8 offer lands on the RTP-level stack, its uplink is decoded by
 * our VP8 decoder, and its downlink is the profile's one shared VP8 encode, which a wrtc
 * client in the same room receives too. Same signaling, one peer connection, no page change.
 */
describe('the join page with one shared VP8 encode per profile (VIDEO_ENCODE=shared)', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  let dir: string;
  const contexts: BrowserContext[] = [];
  let client: TestClient | null = null;

  const roomStats = async (): Promise<RoomStats> => {
    const worker = server.app.get(MediaSupervisor).get(ROOM);
    if (!worker) throw new Error('no media worker for the room');
    return (await worker.request('room.stats', {})) as RoomStats;
  };

  beforeAll(async () => {
    buildPublic();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shared-encode-call-'));
    server = await startTestServer({ VIDEO_ENCODE: 'shared' });
    browser = await launchChromium({ cameraY4m: solidCameraY4m(dir, CAMERA) });
    await ensureRoom(server, ROOM, { name: 'Shared encode call' });
  });

  afterAll(async () => {
    await client?.close();
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the browser and a wrtc client see and hear each other, both on the one VP8 encode', async () => {
    const { context, page } = await newPage(browser);
    contexts.push(context);
    await page.addInitScript(capturePeerConnection);
    const t = await token(server, ROOM, { identity: 'hanna', displayName: 'Hanna' });
    await joinByLink(page as Page, server.url, ROOM, t);
    client = await joinRoom(server, ROOM, 'vera', { displayName: 'Vera', colour: RED, toneHz: WRTC_TONE_HZ });
    const c = client;

    // The wrtc client sees the browser's camera (our VP8 decoder took the browser's uplink).
    await waitFor(
      () => c.latestFrame !== null && frameContainsColour(c.latestFrame, rgbToYuv(CAMERA)),
      60000,
      'the wrtc client to see the camera colour',
    );
    // The page sees both colours in the composite, received in VP8 and sent in VP8.
    const seen = await pollPage(
      page,
      (m) => showsColour(m, RED) && showsColour(m, CAMERA),
      'the page to see both colours',
      TONES,
    );
    expect(seen.inboundVideoCodec).toBe('video/VP8');
    expect(seen.outboundVideoCodec).toBe('video/VP8');

    // Mix-minus both ways.
    await waitFor(
      () => goertzel(c.recentAudio(1000), c.audioSampleRate, CHROMIUM_TONE_HZ) > 0.3,
      45000,
      'the browser tone at the wrtc client',
    );
    expect(goertzel(c.recentAudio(1000), c.audioSampleRate, WRTC_TONE_HZ)).toBeLessThan(0.05);
    const heard = await pollPage(page, (m) => m.tone[WRTC_TONE_HZ] > 0.3, 'the wrtc tone in the page', TONES);
    expect(heard.tone[CHROMIUM_TONE_HZ]).toBeLessThan(0.05);

    // Both downlinks come from one encoder; the roster is as for anyone.
    await page.locator('#participants li', { hasText: 'Vera' }).waitFor({ timeout: 30000 });
    const stats = await roomStats();
    expect(stats.sharedEncoders).toEqual([
      expect.objectContaining({ profile: 'standard', codec: 'vp8', receivers: 2 }),
    ]);
    expect(stats.participants.find((p) => p.displayName === 'Hanna')).toMatchObject({
      connectionState: 'connected',
      hasAudio: true,
      hasVideo: true,
    });
  });
});
