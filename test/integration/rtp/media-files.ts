/**
 * Encoded media for the RTP tests, made with the ffmpeg CLI: H.264 access units, VP8 frames
 * (IVF) and Opus packets (Ogg) of a known colour and tone, and a decoder that turns received
 * H.264 back into pictures.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { forEachAnnexBNal } from '../../../workers/media/rtp/h264-packetizer';

export const WIDTH = 640;
export const HEIGHT = 360;
export const FPS = 15;

export interface EncodedFrame {
  data: Uint8Array;
  keyframe: boolean;
}

/** A solid colour with light temporal noise (so frames span several packets). */
function source(colour: string, seconds: number): string {
  return `color=c=${colour}:s=${WIDTH}x${HEIGHT}:r=${FPS}:d=${seconds},noise=alls=12:allf=t`;
}

export function encodeH264(dir: string, colour: string, seconds: number): EncodedFrame[] {
  const file = path.join(dir, `${colour}.h264`);
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    source(colour, seconds),
    '-c:v',
    'libx264',
    '-profile:v',
    'baseline',
    '-pix_fmt',
    'yuv420p',
    '-preset',
    'veryfast',
    '-tune',
    'zerolatency',
    '-b:v',
    '500k',
    '-x264-params',
    `keyint=${FPS * 2}:scenecut=0:bframes=0:aud=1`,
    '-bsf:v',
    'h264_mp4toannexb',
    '-f',
    'h264',
    file,
  ]);
  const stream = fs.readFileSync(file);
  const starts: number[] = [];
  forEachAnnexBNal(stream, (s) => (stream[s] & 0x1f) === 9 && starts.push(s - 4));
  return starts.map((s, i) => {
    const data = stream.subarray(Math.max(0, s), starts[i + 1] ?? stream.length);
    let keyframe = false;
    forEachAnnexBNal(data, (n) => ((data[n] & 0x1f) === 5 ? (keyframe = true) : undefined));
    return { data, keyframe };
  });
}

/** VP8 frames from an IVF file (32-byte file header, 12-byte frame headers). */
export function encodeVp8(dir: string, colour: string, seconds: number): EncodedFrame[] {
  const file = path.join(dir, `${colour}.ivf`);
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    source(colour, seconds),
    '-c:v',
    'libvpx',
    '-deadline',
    'realtime',
    '-cpu-used',
    '8',
    '-b:v',
    '500k',
    '-g',
    String(FPS * 2),
    '-auto-alt-ref',
    '0',
    '-lag-in-frames',
    '0',
    '-f',
    'ivf',
    file,
  ]);
  const ivf = fs.readFileSync(file);
  const out: EncodedFrame[] = [];
  for (let at = ivf.readUInt16LE(6); at + 12 <= ivf.length;) {
    const size = ivf.readUInt32LE(at);
    const data = ivf.subarray(at + 12, at + 12 + size);
    out.push({ data, keyframe: (data[0] & 1) === 0 });
    at += 12 + size;
  }
  return out;
}

/** 20 ms Opus packets of a sine tone, from an Ogg file (RFC 7845): the header packets skipped. */
export function encodeOpusTone(dir: string, frequency: number, seconds: number): Uint8Array[] {
  const file = path.join(dir, `tone-${frequency}.ogg`);
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=${frequency}:sample_rate=48000:duration=${seconds}`,
    '-c:a',
    'libopus',
    '-b:a',
    '48k',
    '-frame_duration',
    '20',
    '-application',
    'audio',
    file,
  ]);
  const ogg = fs.readFileSync(file);
  const packets: Uint8Array[] = [];
  let pending: Buffer[] = [];
  for (let at = 0; at + 27 <= ogg.length;) {
    if (ogg.toString('latin1', at, at + 4) !== 'OggS') throw new Error('bad Ogg page');
    const segments = ogg[at + 26];
    let body = at + 27 + segments;
    for (let i = 0; i < segments; i++) {
      const len = ogg[at + 27 + i];
      pending.push(ogg.subarray(body, body + len));
      body += len;
      if (len < 255) {
        packets.push(Buffer.concat(pending));
        pending = [];
      }
    }
    at = body;
  }
  return packets.slice(2); // OpusHead, OpusTags
}

/** A y4m clip of one colour for Chromium's fake camera. */
export function colourY4m(dir: string, colour: string): string {
  const file = path.join(dir, `${colour}.y4m`);
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `color=c=${colour}:s=${WIDTH}x${HEIGHT}:r=${FPS}:d=2`,
    '-pix_fmt',
    'yuv420p',
    file,
  ]);
  return file;
}

export interface Yuv {
  y: number;
  u: number;
  v: number;
}

/** The YUV (BT.601 limited, as ffmpeg converts) of a colour, measured with ffmpeg itself. */
export function expectedYuv(colour: string): Yuv {
  const raw = execFileSync('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    `color=c=${colour}:s=64x64:d=0.1`,
    '-frames:v',
    '1',
    '-pix_fmt',
    'yuv420p',
    '-f',
    'rawvideo',
    'pipe:1',
  ]);
  return meanYuv(raw, 64, 64);
}

export function meanYuv(frame: Uint8Array, width: number, height: number): Yuv {
  const ySize = width * height;
  const cSize = ySize / 4;
  const mean = (from: number, n: number) => {
    let s = 0;
    for (let i = from; i < from + n; i++) s += frame[i];
    return s / n;
  };
  return { y: mean(0, ySize), u: mean(ySize, cSize), v: mean(ySize + cSize, cSize) };
}

/**
 * An ffmpeg process decoding Annex-B H.264 from stdin into yuv420p frames; resolves with the
 * frames' mean colours once stdin is closed.
 */
export function h264Decoder(): { write(au: Uint8Array): void; finish(): Promise<Yuv[]> } {
  const ff = spawn('ffmpeg', [
    '-v',
    'error',
    '-f',
    'h264',
    '-i',
    'pipe:0',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'yuv420p',
    '-s',
    `${WIDTH}x${HEIGHT}`,
    'pipe:1',
  ]);
  const frameBytes = (WIDTH * HEIGHT * 3) / 2;
  const means: Yuv[] = [];
  let buf = Buffer.alloc(0);
  let stderr = '';
  ff.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  ff.stdout.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= frameBytes) {
      means.push(meanYuv(buf.subarray(0, frameBytes), WIDTH, HEIGHT));
      buf = buf.subarray(frameBytes);
    }
  });
  const done = new Promise<Yuv[]>((resolve, reject) =>
    ff.on('close', (code) =>
      code === 0 ? resolve(means) : reject(new Error(`ffmpeg exited ${code}: ${stderr}`)),
    ),
  );
  return {
    write: (au) => ff.stdin.write(au),
    finish: () => {
      ff.stdin.end();
      return done;
    },
  };
}
