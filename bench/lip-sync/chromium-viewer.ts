/**
 * A Chromium viewer for the lip-sync benchmark: Debian's Chromium (headless, playwright-core)
 * receives the composite and the mix as a browser participant does, and finds the flash and
 * beep onsets where a person would meet them:
 *
 * - video: `requestVideoFrameCallback` on a <video> playing the received track; each frame is
 *   drawn into a small canvas and its centre luma read; the onset is the frame's
 *   `expectedDisplayTime` (when the compositor shows it);
 * - audio: the received track through an AudioWorklet (frame-exact: the block's `currentTime`
 *   plus the sample's index), mapped to the page's clock with `getOutputTimestamp()` (when that
 *   sample leaves the audio output). The track is also played by an <audio> element: Chromium
 *   pulls a remote track's audio (NetEq) for its output.
 *
 * Both are converted to this process's `performance.now()` through the wall clock (each side's
 * `timeOrigin`), so they pair with the wrtc viewer's and the sender's times. Chromium runs its own
 * A/V sync on the two tracks when the server's answer puts them in one stream (msid): this is
 * the figure a browser user gets, its receive stack included.
 *
 * Signalling goes through this process (socket.io, as TestClient does): the page makes the
 * receive-only offer (its candidates in it), we carry it to the server, the answer and the
 * server's candidates back.
 */
import type { Browser, Page } from 'playwright-core';
import { io, type Socket } from 'socket.io-client';
import type { Profile } from '../../workers/protocol/media';
import { provisionJoin } from '../../test/helpers/api';
import { connectReceiveOnly } from '../chromium-signalling';
import { BEEP_THRESHOLD, LUMA_THRESHOLD } from './flash-beep';
import { inboundCounters, type InboundCounters } from '../../workers/media/av-sync';
import type { RawStat } from '../../workers/media/downlink-stats';

/** What the page hands back: onsets on the wall clock (ms since the epoch). */
interface PageOnsets {
  video: number[];
  audio: number[];
  /**
   * The same events where the receive stack hands them to the track (MediaStreamTrackProcessor:
   * the decoded frame, the 10 ms of sound NetEq gave out), before the compositor and the audio
   * output: what is left of Chromium's figure without its rendering paths.
   */
  trackVideo: number[];
  trackAudio: number[];
  frames: number;
  /** Per received track, `kind:stream id` (one shared id: Chromium syncs the two as a group). */
  streams: string[];
  /** The AudioContext's own latency figures at the end of the run (seconds; per launch). */
  outputLatency: number | null;
  baseLatency: number | null;
}

/** Runs in the page: sets up the receive-only peer connection and the detectors. */
async function pageInstall(args: { lumaThreshold: number; beepThreshold: number }): Promise<string> {
  const w = window as unknown as Record<string, unknown>;
  const pc = new RTCPeerConnection();
  w.pc = pc;
  const onsets = {
    video: [] as number[],
    audio: [] as number[],
    trackVideo: [] as number[],
    trackAudio: [] as number[],
    frames: 0,
    streams: [] as string[],
    outputLatency: null as number | null,
    baseLatency: null as number | null,
  };
  w.onsets = onsets;
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  const toWall = (pageMs: number): number => performance.timeOrigin + pageMs;

  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  document.body.appendChild(video);
  const canvas = document.createElement('canvas');
  canvas.width = 32;
  canvas.height = 18;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  let bright = false;
  const onFrame = (_now: number, meta: VideoFrameCallbackMetadata): void => {
    onsets.frames++;
    if (g) {
      g.drawImage(video, 0, 0, canvas.width, canvas.height);
      // The centre quarter, as centreLuma reads the wrtc viewer's frames.
      const px = g.getImageData(8, 4, 16, 9).data;
      let sum = 0;
      for (let i = 0; i < px.length; i += 4) sum += 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
      const luma = sum / (px.length / 4);
      const now = luma >= args.lumaThreshold;
      if (now && !bright) onsets.video.push(toWall(meta.expectedDisplayTime));
      bright = now;
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);

  const ctx = new AudioContext({ sampleRate: 48000 });
  const worklet = `
    class Onsets extends AudioWorkletProcessor {
      constructor() { super(); this.loud = false; this.quietFor = 0; }
      process(inputs) {
        const ch = inputs[0] && inputs[0][0];
        if (!ch) return true;
        for (let i = 0; i < ch.length; i++) {
          const v = Math.abs(ch[i]) * 32768;
          if (v >= ${args.beepThreshold}) {
            if (!this.loud) this.port.postMessage(currentTime + i / sampleRate);
            this.loud = true;
            this.quietFor = 0;
          } else if (this.loud && ++this.quietFor > sampleRate / 20) {
            this.loud = false; // 50 ms below the threshold ends the beep
          }
        }
        return true;
      }
    }
    registerProcessor('onsets', Onsets);`;
  await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([worklet], { type: 'text/javascript' })));
  const node = new AudioWorkletNode(ctx, 'onsets');
  node.port.onmessage = (e: MessageEvent<number>) => {
    const ts = ctx.getOutputTimestamp();
    if (ts.contextTime === undefined || ts.performanceTime === undefined) return;
    onsets.audio.push(toWall(ts.performanceTime + (e.data - ts.contextTime) * 1000));
  };
  node.connect(ctx.destination);
  void ctx.resume();

  // Track level: frames and sound as the receive stack delivers them, read on arrival.
  type Processor = { readable: ReadableStream<VideoFrame | AudioData> };
  const Proc = (w as { MediaStreamTrackProcessor?: new (o: { track: MediaStreamTrack }) => Processor })
    .MediaStreamTrackProcessor;
  const readTrack = (track: MediaStreamTrack): void => {
    if (!Proc) return;
    const reader = new Proc({ track }).readable.getReader();
    let loud = false;
    let quietFor = 0;
    let brightFrame = false;
    const pump = async (): Promise<void> => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || !value) return;
        const at = performance.now();
        if (value instanceof VideoFrame) {
          // The centre quarter of the Y plane, as centreLuma reads the wrtc viewer's frames.
          const buf = new Uint8Array(value.allocationSize());
          const layout = await value.copyTo(buf);
          const wd = value.codedWidth;
          const ht = value.codedHeight;
          const y0 = layout[0];
          let sum = 0;
          let n = 0;
          for (let y = Math.floor(ht / 4); y < Math.floor((3 * ht) / 4); y += 2)
            for (let x = Math.floor(wd / 4); x < Math.floor((3 * wd) / 4); x += 2) {
              sum += buf[y0.offset + y * y0.stride + x];
              n++;
            }
          const isBright = n > 0 && sum / n >= args.lumaThreshold;
          if (isBright && !brightFrame) onsets.trackVideo.push(toWall(at));
          brightFrame = isBright;
        } else {
          const frames = value.numberOfFrames;
          const pcm = new Float32Array(frames);
          value.copyTo(pcm, { planeIndex: 0, format: 'f32-planar' });
          for (let i = 0; i < frames; i++) {
            if (Math.abs(pcm[i]) * 32768 >= args.beepThreshold) {
              // The chunk was just handed over: its sample i is i/rate into it.
              if (!loud) onsets.trackAudio.push(toWall(at + (i / value.sampleRate) * 1000));
              loud = true;
              quietFor = 0;
            } else if (loud && ++quietFor > value.sampleRate / 20) loud = false;
          }
        }
        value.close();
      }
    };
    void pump().catch(() => undefined);
  };
  setInterval(() => {
    onsets.outputLatency = ctx.outputLatency ?? null;
    onsets.baseLatency = ctx.baseLatency ?? null;
  }, 1000);

  pc.ontrack = (e) => {
    onsets.streams.push(`${e.track.kind}:${e.streams[0]?.id ?? '-'}`);
    readTrack(e.track);
    const stream = new MediaStream([e.track]);
    if (e.track.kind === 'video') {
      video.srcObject = stream;
      void video.play().catch(() => undefined);
    } else {
      const audio = document.createElement('audio');
      audio.autoplay = true;
      audio.srcObject = stream;
      document.body.appendChild(audio);
      void audio.play().catch(() => undefined);
      ctx.createMediaStreamSource(stream).connect(node);
    }
  };
  await pc.setLocalDescription(await pc.createOffer());
  // The offer with every candidate in it (loopback gathers in milliseconds): no trickle needed.
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
    setTimeout(resolve, 3000);
  });
  return pc.localDescription?.sdp ?? '';
}

export class ChromiumViewer {
  private constructor(
    private readonly browser: Browser,
    private readonly page: Page,
    private readonly socket: Socket,
  ) {}

  /** Joins `roomId` as a viewer asking for `profile`; resolves once the page decodes video. */
  static async join(serverUrl: string, roomId: string, profile: Profile): Promise<ChromiumViewer> {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--disable-gpu'],
    });
    const page = await browser.newPage();
    page.on('pageerror', (err) => process.stderr.write(`[chromium viewer] ${err.message}\n`));
    // The server's own origin: a secure context (AudioWorklet) on 127.0.0.1.
    await page.goto(`${serverUrl}/healthz`);
    const socket = io(serverUrl, { transports: ['websocket'], reconnection: false, forceNew: true });
    const viewer = new ChromiumViewer(browser, page, socket);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      const token = await provisionJoin(serverUrl, {
        roomId,
        displayName: 'chromium-viewer',
        role: 'viewer',
      });
      await connectReceiveOnly(page, socket, { roomId, profile, token }, () =>
        page.evaluate(pageInstall, { lumaThreshold: LUMA_THRESHOLD, beepThreshold: BEEP_THRESHOLD }),
      );
      const deadline = Date.now() + 30_000;
      while ((await viewer.collect()).frames === 0) {
        if (Date.now() > deadline) throw new Error('the Chromium viewer received no video');
        await new Promise((r) => setTimeout(r, 200));
      }
      return viewer;
    } catch (err) {
      await viewer.close();
      throw err;
    }
  }

  /** Onsets so far, on this process's performance.now() clock. */
  async collect(): Promise<PageOnsets> {
    const o = await this.page.evaluate(() => (window as unknown as { onsets: PageOnsets }).onsets);
    const local = (wallMs: number): number => wallMs - performance.timeOrigin;
    return {
      ...o,
      video: o.video.map(local),
      audio: o.audio.map(local),
      trackVideo: o.trackVideo.map(local),
      trackAudio: o.trackAudio.map(local),
    };
  }

  /** The page's inbound-rtp counters (jitter buffers, decode), as read from a wrtc viewer. */
  async counters(): Promise<InboundCounters | null> {
    // Only the inbound-rtp fields inboundCounters reads, as plain numbers.
    const list: RawStat[] = await this.page.evaluate(async () => {
      const report = await (window as unknown as { pc: RTCPeerConnection }).pc.getStats();
      const out: RawStat[] = [];
      report.forEach((s: RTCInboundRtpStreamStats) => {
        if (s.type !== 'inbound-rtp') return;
        out.push({
          id: s.id,
          type: s.type,
          kind: s.kind,
          jitterBufferDelay: s.jitterBufferDelay,
          jitterBufferEmittedCount: s.jitterBufferEmittedCount,
          totalDecodeTime: s.totalDecodeTime,
          framesDecoded: s.framesDecoded,
        });
      });
      return out;
    });
    return inboundCounters(list);
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.browser.close().catch(() => undefined);
  }
}
