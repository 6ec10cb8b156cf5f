import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import type { Rgb } from '../../../workers/media/engine/video/i420';

/*
 * What a page of the real client shows and plays, read from inside Chromium: the received
 * picture as an 8x8 grid of mean colours, the received sound's spectrum through a WebAudio
 * AnalyserNode (headless has no audio output), and the negotiated codecs from getStats.
 */

export interface PageMedia {
  /** Mean RGB of an 8x8 grid of cells of the received picture. */
  cells: Array<[number, number, number]>;
  /** Share of the received sound's energy near each frequency (AnalyserNode spectrum). */
  tone: Record<string, number>;
  inboundVideoCodec: string | null;
  outboundVideoCodec: string | null;
}

/** Reads what the page shows and plays: pixels of #remote, its sound through an AnalyserNode, getStats. */
export function readPageMedia(page: Page, freqs: number[]): Promise<PageMedia> {
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
export function capturePeerConnection(): void {
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

export function showsColour(m: PageMedia, c: Rgb, tolerance = 40): boolean {
  return m.cells.some(
    ([r, g, b]) =>
      Math.abs(r - c.r) <= tolerance && Math.abs(g - c.g) <= tolerance && Math.abs(b - c.b) <= tolerance,
  );
}

export async function pollPage(
  page: Page,
  cond: (m: PageMedia) => boolean,
  what: string,
  freqs: number[],
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

/** Runs ffmpeg on a lavfi source (`source`: its filter graph; `out`: output options and file). */
export function ffmpegLavfi(source: string, out: readonly string[]): void {
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', source, ...out]);
}

/** A 2 s 640x360@15 y4m of one colour in `dir`: Chromium's fake camera loops it. */
export function solidCameraY4m(dir: string, c: Rgb): string {
  const y4m = path.join(dir, 'camera.y4m');
  const hex = [c.r, c.g, c.b].map((v) => v.toString(16).padStart(2, '0')).join('');
  ffmpegLavfi(`color=c=0x${hex}:s=640x360:r=15:d=2`, ['-pix_fmt', 'yuv420p', y4m]);
  return y4m;
}

/**
 * A 4 s 640x360@15 y4m no encoder can make small: a moving test pattern under fresh temporal
 * noise over the whole picture (every frame differs from the last everywhere), so a narrow
 * uplink cannot carry it whole (test/e2e/weak-uplink-page.spec.ts).
 */
export function busyCameraY4m(dir: string): string {
  const y4m = path.join(dir, 'busy-camera.y4m');
  ffmpegLavfi('testsrc2=s=640x360:r=15:d=4', ['-vf', 'noise=alls=60:allf=t+u', '-pix_fmt', 'yuv420p', y4m]);
  return y4m;
}
