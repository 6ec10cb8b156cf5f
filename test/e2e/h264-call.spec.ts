import { execFileSync } from 'node:child_process';
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

const ROOM = 'h264-call';
/** Chromium's fake camera colour (a y4m made by ffmpeg) and its fake microphone's tone. */
const CAMERA: Rgb = { r: 40, g: 200, b: 60 };
const CHROMIUM_TONE_HZ = 440;
const WRTC_TONE_HZ = 880;

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

interface PageMedia {
  /** Mean RGB of an 8x8 grid of cells of the received picture. */
  cells: Array<[number, number, number]>;
  /** Share of the received sound's energy near each frequency (AnalyserNode spectrum). */
  tone: Record<string, number>;
  inboundVideoCodec: string | null;
  outboundVideoCodec: string | null;
}

/** Reads what the page shows and plays: pixels of #remote, its sound through an AnalyserNode, getStats. */
function readPageMedia(page: Page, freqs: number[]): Promise<PageMedia> {
  return page.evaluate(async (hz) => {
    type W = typeof window & {
      __h264Probe?: { analyser: AnalyserNode; rate: number };
      __mcuPc?: RTCPeerConnection;
    };
    const w = window as W;
    const video = document.getElementById('remote') as HTMLVideoElement;
    const stream = video.srcObject as MediaStream;
    if (!w.__h264Probe) {
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 8192;
      analyser.smoothingTimeConstant = 0;
      ctx.createMediaStreamSource(new MediaStream(stream.getAudioTracks())).connect(analyser);
      w.__h264Probe = { analyser, rate: ctx.sampleRate };
    }
    const { analyser, rate } = w.__h264Probe;
    const spectrum = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(spectrum);
    let total = 0;
    const power = spectrum.map((db) => 10 ** (db / 10));
    for (const p of power) total += p;
    const tone: Record<string, number> = {};
    for (const f of hz) {
      const bin = Math.round((f * analyser.fftSize) / rate);
      let e = 0;
      for (let b = bin - 3; b <= bin + 3; b++) e += power[b] ?? 0;
      tone[String(f)] = total > 0 ? e / total : 0;
    }
    const cells: Array<[number, number, number]> = [];
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (width > 0) {
      const canvas = document.createElement('canvas');
      canvas.width = width;
      canvas.height = height;
      const g = canvas.getContext('2d', { willReadFrequently: true })!;
      g.drawImage(video, 0, 0);
      const cw = Math.floor(width / 8);
      const ch = Math.floor(height / 8);
      for (let cy = 0; cy < 8; cy++)
        for (let cx = 0; cx < 8; cx++) {
          const d = g.getImageData(cx * cw + 2, cy * ch + 2, cw - 4, ch - 4).data;
          const sum = [0, 0, 0];
          for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; k++) sum[k] += d[i + k];
          const n = d.length / 4;
          cells.push([sum[0] / n, sum[1] / n, sum[2] / n]);
        }
    }
    let inboundVideoCodec: string | null = null;
    let outboundVideoCodec: string | null = null;
    const pc = w.__mcuPc;
    if (pc) {
      const report = await pc.getStats();
      const codecs = new Map<string, string>();
      report.forEach((s: { type: string; id: string; mimeType?: string }) => {
        if (s.type === 'codec' && s.mimeType) codecs.set(s.id, s.mimeType);
      });
      report.forEach((s: { type: string; kind?: string; codecId?: string }) => {
        if (s.kind !== 'video' || !s.codecId) return;
        if (s.type === 'inbound-rtp') inboundVideoCodec = codecs.get(s.codecId) ?? null;
        if (s.type === 'outbound-rtp') outboundVideoCodec = codecs.get(s.codecId) ?? null;
      });
    }
    return { cells, tone, inboundVideoCodec, outboundVideoCodec };
  }, freqs);
}

/** Keeps a handle on the page's peer connection for getStats (the page does not expose it). */
function capturePeerConnection(): void {
  const Native = RTCPeerConnection;
  const Wrapped = function (this: unknown, ...args: ConstructorParameters<typeof RTCPeerConnection>) {
    const pc = new Native(...args);
    (window as typeof window & { __mcuPc?: RTCPeerConnection }).__mcuPc = pc;
    return pc;
  } as unknown as typeof RTCPeerConnection;
  Wrapped.prototype = Native.prototype;
  Object.assign(Wrapped, { generateCertificate: Native.generateCertificate });
  window.RTCPeerConnection = Wrapped;
}

function showsColour(m: PageMedia, c: Rgb, tolerance = 40): boolean {
  return m.cells.some(
    ([r, g, b]) =>
      Math.abs(r - c.r) <= tolerance && Math.abs(g - c.g) <= tolerance && Math.abs(b - c.b) <= tolerance,
  );
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
    const y4m = path.join(dir, 'camera.y4m');
    const hex = [CAMERA.r, CAMERA.g, CAMERA.b].map((v) => v.toString(16).padStart(2, '0')).join('');
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      `color=c=0x${hex}:s=640x360:r=15:d=2`,
      '-pix_fmt',
      'yuv420p',
      y4m,
    ]);
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
    const seen = await pollPage(page, (m) => showsColour(m, RED), 'the page to see the wrtc colour');
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
    expect(stats.sharedEncoders).toHaveLength(1);
    expect(stats.sharedEncoders[0]).toMatchObject({ profile: 'standard', codec: 'h264', receivers: 1 });

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
    );
  });

  it('a second H.264 receiver on the same profile gets the same stream without a second encoder', async () => {
    const before = (await roomStats()).sharedEncoders[0];
    const page2 = await openH264Page('Hugo');
    const m = await pollPage(page2, (x) => showsColour(x, RED), 'the second page to see the wrtc colour');
    expect(m.inboundVideoCodec).toBe('video/H264');
    const after = await roomStats();
    expect(after.sharedEncoders).toHaveLength(1);
    expect(after.sharedEncoders[0]).toMatchObject({ profile: 'standard', codec: 'h264', receivers: 2 });
    expect(after.sharedEncoders[0].framesEncoded).toBeGreaterThan(before.framesEncoded);
    // The new receiver asked for a keyframe; the throttle let through at most one per 500 ms.
    expect(after.sharedEncoders[0].keyframeRequests).toBeGreaterThan(before.keyframeRequests);
    // The same figure on /metrics: one series (one encoder) with two receivers.
    let series: ReturnType<typeof samples> = [];
    for (const deadline = Date.now() + 30000; Date.now() < deadline;) {
      series = samples(await (await fetch(`${server.url}/metrics`)).text(), 'mcu_shared_encoder_receivers');
      if (series.some((x) => x.labels.room === ROOM && x.value === 2)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(series.filter((x) => x.labels.room === ROOM)).toEqual([
      { labels: { room: ROOM, profile: 'standard', codec: 'h264' }, value: 2 },
    ]);
  });
});

async function pollPage(
  page: Page,
  cond: (m: PageMedia) => boolean,
  what: string,
  freqs: number[] = [CHROMIUM_TONE_HZ, WRTC_TONE_HZ],
  timeoutMs = 60000,
): Promise<PageMedia> {
  const deadline = Date.now() + timeoutMs;
  let last: PageMedia | null = null;
  while (Date.now() < deadline) {
    last = await readPageMedia(page, freqs);
    if (cond(last)) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(
    `timed out waiting for ${what}; last: ${JSON.stringify({ ...last, cells: last?.cells.slice(0, 8) })}`,
  );
}
