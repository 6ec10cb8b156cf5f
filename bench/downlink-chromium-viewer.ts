/**
 * The adaptive-downlink scenario's receiver as a browser (variant `shared-300-chromium`):
 * Debian's Chromium runs inside the shaped link's network namespace (`ip netns exec`, so only
 * its network moves) and receives the composite and the mix on a receive-only peer connection,
 * with its own congestion control feedback (REMB, receiver reports, NACK, PLI) and jitter
 * buffers: what the wrtc receiver stands in for elsewhere. Signalling goes through this process
 * (socket.io), which also timestamps the `profile-changed` events. Every 250 ms it hands the
 * scenario the same line the wrtc receiver prints (test/fixtures/netns/downlink-viewer.js):
 * frames shown (`requestVideoFrameCallback`, so a frame counts when the page shows it), the last
 * frame's size, gaps of 200 ms or more between two shown frames, and the audio track's counters.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { io, type Socket } from 'socket.io-client';
import type { ProfileChangedEvent } from '../workers/protocol/signaling';
import { connectReceiveOnly } from './chromium-signalling';

export interface ChromiumViewerLine {
  at: number;
  frames: number;
  size: { width: number; height: number } | null;
  longGaps: [number, number][];
  profileEvents: (ProfileChangedEvent & { at: number })[];
  audio?: { packets: number; lost: number; samples: number; concealed: number };
}

interface PageState {
  frames: number;
  width: number;
  height: number;
  lastAt: number;
  gaps: [number, number][];
}

/** Runs in the page: the receive-only peer connection, a <video> counting shown frames, an <audio>. */
async function pageInstall(): Promise<string> {
  const w = window as unknown as Record<string, unknown>;
  const pc = new RTCPeerConnection();
  w.pc = pc;
  const state: PageState = { frames: 0, width: 0, height: 0, lastAt: 0, gaps: [] };
  w.state = state;
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  document.body.appendChild(video);
  const onFrame = (now: number, meta: VideoFrameCallbackMetadata): void => {
    const at = performance.timeOrigin + now;
    if (state.lastAt && at - state.lastAt >= 200) state.gaps.push([at, at - state.lastAt]);
    state.lastAt = at;
    state.frames++;
    state.width = meta.width;
    state.height = meta.height;
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  pc.ontrack = (e) => {
    const stream = new MediaStream([e.track]);
    if (e.track.kind === 'video') {
      video.srcObject = stream;
      void video.play().catch(() => undefined);
    } else {
      // Played, so that Chromium pulls the track's sound (NetEq) and counts what it conceals.
      const audio = document.createElement('audio');
      audio.autoplay = true;
      audio.srcObject = stream;
      document.body.appendChild(audio);
      void audio.play().catch(() => undefined);
    }
  };
  await pc.setLocalDescription(await pc.createOffer());
  // Every candidate in the offer (a veth gathers in milliseconds): no trickle from the page.
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
    setTimeout(resolve, 3000);
  });
  return pc.localDescription?.sdp ?? '';
}

/** Runs in the page: the state since the last read (gaps are handed over once) and the audio counters. */
async function pageRead(): Promise<{
  state: PageState;
  audio: { packets: number; lost: number; samples: number; concealed: number };
}> {
  const w = window as unknown as { state: PageState; pc: RTCPeerConnection };
  const state = { ...w.state, gaps: w.state.gaps.splice(0) };
  const audio = { packets: 0, lost: 0, samples: 0, concealed: 0 };
  const report = await w.pc.getStats();
  report.forEach((s: RTCInboundRtpStreamStats) => {
    if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
    audio.packets += s.packetsReceived ?? 0;
    audio.lost += s.packetsLost ?? 0;
    audio.samples += s.totalSamplesReceived ?? 0;
    audio.concealed += s.concealedSamples ?? 0;
  });
  return { state, audio };
}

export class ChromiumDownlinkViewer {
  private timer: NodeJS.Timeout | null = null;
  private readonly events: (ProfileChangedEvent & { at: number })[] = [];

  private constructor(
    private readonly browser: Browser,
    private readonly page: Page,
    private readonly socket: Socket,
    private readonly dir: string,
  ) {}

  /**
   * Joins `roomId` with `token` asking for `profile` from inside network namespace `ns`, and
   * hands `onLine` a line every 250 ms until closed.
   */
  static async join(
    serverUrl: string,
    roomId: string,
    token: string,
    profile: string,
    ns: string,
    onLine: (line: ChromiumViewerLine) => void,
  ): Promise<ChromiumDownlinkViewer> {
    const { chromium } = await import('playwright-core');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-bench-chromium-'));
    // `ip netns exec` keeps the pipe Playwright drives the browser through.
    const executablePath = path.join(dir, 'chromium-in-netns');
    fs.writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec ${ns} /usr/bin/chromium "$@"\n`, {
      mode: 0o755,
    });
    const browser = await chromium.launch({
      executablePath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--disable-gpu'],
    });
    const page = await browser.newPage();
    page.on('pageerror', (err) => process.stderr.write(`[chromium receiver] ${err.message}\n`));
    await page.goto(`${serverUrl}/healthz`);
    const socket = io(serverUrl, { transports: ['websocket'], reconnection: false, forceNew: true });
    const viewer = new ChromiumDownlinkViewer(browser, page, socket, dir);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      socket.on('profile-changed', (d: ProfileChangedEvent) => viewer.events.push({ ...d, at: Date.now() }));
      await connectReceiveOnly(page, socket, { roomId, profile, token }, () => page.evaluate(pageInstall));
      viewer.timer = setInterval(() => void viewer.read().then(onLine, () => undefined), 250);
      return viewer;
    } catch (err) {
      await viewer.close();
      throw err;
    }
  }

  private async read(): Promise<ChromiumViewerLine> {
    const { state, audio } = await this.page.evaluate(pageRead);
    return {
      at: Date.now(),
      frames: state.frames,
      size: state.width ? { width: state.width, height: state.height } : null,
      longGaps: state.gaps,
      profileEvents: [...this.events],
      audio,
    };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.socket.close();
    await this.browser.close().catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
