import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RoomStats } from '../../workers/protocol/media';
import type { Rgb } from '../../workers/media/engine/video/i420';
import { MediaSupervisor } from '../../src/media/media-supervisor.service';
import { api, ensureRoom, token } from '../helpers/api';
import { frameContainsColour, goertzel, rgbToYuv, rmsOf } from '../helpers/media-analysis';
import { BLUE, joinRoom, RED } from '../helpers/live-room';
import { samples } from '../helpers/metrics';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/signal';
import type { TestClient } from '../helpers/wrtc-client';
import { buildPublic, joinByLink, launchChromium, newPage } from './helpers/browser';
import { capturePeerConnection, pollPage, showsColour, solidCameraY4m } from './helpers/page-media';

const ROOM = 'h264-call';
/** Chromium's fake camera colour (a y4m made by ffmpeg) and its fake microphone's tone. */
const CAMERA: Rgb = { r: 40, g: 200, b: 60 };
const CHROMIUM_TONE_HZ = 440;
const WRTC_TONE_HZ = 880;
const TONES = [CHROMIUM_TONE_HZ, WRTC_TONE_HZ];

/**
 * Before the page's script runs: every video transceiver offers H.264 constrained baseline
 * (42e01f, packetization-mode 1) and RTX only, as an H.264-only endpoint does. The join page
 * itself is unchanged.
 */
function forceH264Only(): void {
  const original = RTCPeerConnection.prototype.createOffer;
  RTCPeerConnection.prototype.createOffer = function (this: RTCPeerConnection, ...args: unknown[]) {
    const codecs = (RTCRtpReceiver.getCapabilities('video')?.codecs ?? []).filter(
      (c) =>
        c.mimeType === 'video/rtx' ||
        (c.mimeType === 'video/H264' &&
          /profile-level-id=42e01f/.test(c.sdpFmtpLine ?? '') &&
          /packetization-mode=1/.test(c.sdpFmtpLine ?? '')),
    );
    for (const t of this.getTransceivers())
      if (t.receiver.track.kind === 'video') t.setCodecPreferences(codecs);
    return (original as (...a: unknown[]) => Promise<RTCSessionDescriptionInit>).apply(this, args);
  } as typeof original;
}

describe('an H.264-only Chromium in a room with VP8 and VP9 wrtc clients (RTP-level path, issue #14)', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  let dir: string;
  const contexts: BrowserContext[] = [];
  let wrtcClient: TestClient | null = null;
  let vp9Client: TestClient | null = null;

  const roomStats = async (): Promise<RoomStats> => {
    const worker = server.app.get(MediaSupervisor).get(ROOM);
    if (!worker) throw new Error('no media worker for the room');
    return (await worker.request('room.stats', {})) as RoomStats;
  };
  const h264Encoders = (stats: RoomStats) => stats.sharedEncoders.filter((e) => e.codec === 'h264');

  const openH264Page = async (name: string): Promise<Page> => {
    const { context, page } = await newPage(browser);
    contexts.push(context);
    await page.addInitScript(capturePeerConnection);
    await page.addInitScript(forceH264Only);
    const t = await token(server, ROOM, { identity: name.toLowerCase(), displayName: name });
    await joinByLink(page, server.url, ROOM, t);
    return page;
  };

  beforeAll(async () => {
    buildPublic();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'h264-call-'));
    const y4m = solidCameraY4m(dir, CAMERA);
    server = await startTestServer({ METRICS_POLL_MS: '1000' });
    browser = await launchChromium({ cameraY4m: y4m });
    await ensureRoom(server, ROOM, { name: 'H.264 call' });
  });

  afterAll(async () => {
    await wrtcClient?.close();
    await vp9Client?.close();
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('each side sees the other colour and hears the other tone; the browser receives and sends H.264', async () => {
    const page = await openH264Page('Hanna');
    wrtcClient = await joinRoom(server, ROOM, 'vera', {
      displayName: 'Vera',
      colour: RED,
      toneHz: WRTC_TONE_HZ,
      videoCodecs: ['VP8'],
    });
    const client = wrtcClient;

    // The VP8 client sees the browser's camera colour (decoded from its H.264 uplink).
    await waitFor(
      () => client.latestFrame !== null && frameContainsColour(client.latestFrame, rgbToYuv(CAMERA)),
      60000,
      'the wrtc client to see the H.264 camera colour',
    );
    expect((await client.videoInboundStats()).codec).toMatch(/VP8/i);

    // The browser sees the wrtc client's colour in the composite it receives in H.264.
    const seen = await pollPage(page, (m) => showsColour(m, RED), 'the page to see the wrtc colour', TONES);
    expect(seen.inboundVideoCodec).toBe('video/H264');
    expect(seen.outboundVideoCodec).toBe('video/H264');

    // Mix-minus both ways: each hears the other's tone and not its own.
    await waitFor(() => rmsOf(client.recentAudio(500)) > 0.02, 45000, 'sound at the wrtc client');
    await waitFor(
      () => goertzel(client.recentAudio(1000), client.audioSampleRate, CHROMIUM_TONE_HZ) > 0.3,
      30000,
      'the browser tone at the wrtc client',
    );
    expect(goertzel(client.recentAudio(1000), client.audioSampleRate, WRTC_TONE_HZ)).toBeLessThan(0.05);
    const heard = await pollPage(page, (m) => m.tone[WRTC_TONE_HZ] > 0.3, 'the wrtc tone in the page', [
      CHROMIUM_TONE_HZ,
      WRTC_TONE_HZ,
    ]);
    expect(heard.tone[CHROMIUM_TONE_HZ]).toBeLessThan(0.05);

    // Same roster as anyone: both listed, the H.264 one connected with audio and video.
    await page.locator('#participants li', { hasText: 'Vera' }).waitFor({ timeout: 30000 });
    const stats = await roomStats();
    const hanna = stats.participants.find((p) => p.displayName === 'Hanna');
    expect(hanna).toMatchObject({ connectionState: 'connected', hasAudio: true, hasVideo: true });
    // One H.264 encode (the wrtc clients' VP8 has its own with the shared default).
    expect(h264Encoders(stats)).toHaveLength(1);
    expect(h264Encoders(stats)[0]).toMatchObject({ profile: 'standard', codec: 'h264', receivers: 1 });

    // A server-side mute takes the H.264 member out of the mix like anyone; unmute brings it back.
    const path = `/api/rooms/${ROOM}/participants/${hanna!.participantId}`;
    expect((await api(server, `${path}/mute`, { method: 'POST', body: { kind: 'audio' } })).status).toBe(200);
    await waitFor(
      () => goertzel(client.recentAudio(1000), client.audioSampleRate, CHROMIUM_TONE_HZ) < 0.05,
      30000,
      'the muted browser tone to leave the mix',
    );
    expect((await api(server, `${path}/unmute`, { method: 'POST', body: { kind: 'audio' } })).status).toBe(
      200,
    );
    await waitFor(
      () => goertzel(client.recentAudio(1000), client.audioSampleRate, CHROMIUM_TONE_HZ) > 0.3,
      30000,
      'the browser tone back after unmute',
    );

    // A mixed room: a VP9 wrtc client (silent, so the tone checks above stay two-party) joins.
    vp9Client = await joinRoom(server, ROOM, 'bea', {
      displayName: 'Bea',
      colour: BLUE,
      toneHz: 0,
      videoCodecs: ['VP9'],
    });
    const vp9 = vp9Client;
    await waitFor(
      () => vp9.latestFrame !== null && frameContainsColour(vp9.latestFrame, rgbToYuv(CAMERA)),
      60000,
      'the VP9 client to see the H.264 camera colour',
    );
    expect((await vp9.videoInboundStats()).codec).toMatch(/VP9/i);
    await pollPage(
      page,
      (m) => showsColour(m, RED) && showsColour(m, BLUE),
      'the page to see the VP8 and the VP9 colours',
      TONES,
    );
  });

  it('a second H.264 receiver on the same profile gets the same stream without a second encoder', async () => {
    const before = h264Encoders(await roomStats())[0];
    const page2 = await openH264Page('Hugo');
    const m = await pollPage(
      page2,
      (x) => showsColour(x, RED),
      'the second page to see the wrtc colour',
      TONES,
    );
    expect(m.inboundVideoCodec).toBe('video/H264');
    const after = await roomStats();
    const [encoder, ...more] = h264Encoders(after);
    expect(more).toEqual([]);
    expect(encoder).toMatchObject({ profile: 'standard', codec: 'h264', receivers: 2 });
    expect(encoder.framesEncoded).toBeGreaterThan(before.framesEncoded);
    // The new receiver asked for a keyframe; the throttle let through at most one per 500 ms.
    expect(encoder.keyframeRequests).toBeGreaterThan(before.keyframeRequests);
    // The same figure on /metrics: one series (one encoder) with two receivers.
    let series: ReturnType<typeof samples> = [];
    for (const deadline = Date.now() + 30000; Date.now() < deadline;) {
      series = samples(await (await fetch(`${server.url}/metrics`)).text(), 'mcu_shared_encoder_receivers');
      if (series.some((x) => x.labels.room === ROOM && x.value === 2)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(series.filter((x) => x.labels.room === ROOM && x.labels.codec === 'h264')).toEqual([
      { labels: { room: ROOM, profile: 'standard', codec: 'h264' }, value: 2 },
    ]);
  });
});
