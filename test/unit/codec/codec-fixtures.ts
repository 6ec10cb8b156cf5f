/**
 * Shared fixtures of the codec tests: frames of known colours and busy moving content, helpers
 * that drive the async encoder/decoder one frame at a time and keep copies of what came out,
 * and the real ffmpeg/ffprobe CLIs as an independent decoder (Annex B .h264 and IVF files).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setLogSink } from '../../../workers/kernel/logger';
import { codecsAvailable } from '../../../workers/media/engine/codec/native-codec';
import {
  VideoDecoder,
  VideoDecoderOptions,
  KeyframeNeededReason,
} from '../../../workers/media/engine/codec/video-decoder';
import { VideoEncoder, VideoEncoderOptions } from '../../../workers/media/engine/codec/video-encoder';
import {
  I420Frame,
  Yuv,
  createI420,
  fillRect,
  meanYuvInRect,
  rgbToYuv,
} from '../../../workers/media/engine/video/i420';

setLogSink(() => undefined);

export const available = codecsAvailable().available;
/** Codec specs run only when the addon is built (scripts/setup.js builds it when it can). */
export const describeCodecs = available ? describe : describe.skip;

/** Four quadrant colours, far apart in YUV. */
export const TILE_COLOURS: readonly Yuv[] = [
  rgbToYuv({ r: 220, g: 40, b: 40 }),
  rgbToYuv({ r: 40, g: 200, b: 60 }),
  rgbToYuv({ r: 40, g: 60, b: 220 }),
  rgbToYuv({ r: 230, g: 220, b: 50 }),
];

/** Quadrants of TILE_COLOURS, rotated by `shift` (so consecutive frames can differ). */
export function tileFrame(width: number, height: number, shift = 0): I420Frame {
  const f = createI420(width, height);
  const w = width / 2;
  const h = height / 2;
  for (let i = 0; i < 4; i++) {
    fillRect(f, (i % 2) * w, Math.floor(i / 2) * h, w, h, TILE_COLOURS[(i + shift) % 4]);
  }
  return f;
}

/** Largest YUV distance between each quadrant's inner mean and its expected colour. */
export function tileError(frame: I420Frame, shift = 0): number {
  const w = frame.width / 2;
  const h = frame.height / 2;
  let worst = 0;
  for (let i = 0; i < 4; i++) {
    const m = meanYuvInRect(frame, (i % 2) * w + w / 4, Math.floor(i / 2) * h + h / 4, w / 2, h / 2);
    const c = TILE_COLOURS[(i + shift) % 4];
    worst = Math.max(worst, Math.abs(m.y - c.y), Math.abs(m.u - c.u), Math.abs(m.v - c.v));
  }
  return worst;
}

/**
 * Busy content: a noise texture scrolling 3 px per frame under the colour quadrants' chroma,
 * so every frame has new detail to code (a camera-like worst case for rate control).
 */
export class BusySource {
  private readonly texture: Uint8Array;
  readonly frame: I420Frame;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.frame = tileFrame(width, height);
    const tw = width * 2;
    this.texture = new Uint8Array(tw * height);
    let seed = 12345;
    for (let i = 0; i < this.texture.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      this.texture[i] = 40 + ((seed >>> 24) % 160);
    }
  }

  /** Frame n (the same buffer every time, as a compositor's canvas). */
  next(n: number): I420Frame {
    const { width, height } = this;
    const off = (n * 3) % width;
    for (let y = 0; y < height; y++) {
      this.frame.data.set(this.texture.subarray(y * width * 2 + off, y * width * 2 + off + width), y * width);
    }
    return this.frame;
  }
}

export interface Packet {
  data: Buffer;
  keyframe: boolean;
  pts: number;
}

/** An encoder whose outputs are copied into `packets`; encodeAll() feeds frames one at a time. */
export class EncoderHarness {
  readonly packets: Packet[] = [];
  readonly encoder: VideoEncoder;

  constructor(options: VideoEncoderOptions) {
    const enc = VideoEncoder.create(options, (f) =>
      this.packets.push({ data: Buffer.from(f.data), keyframe: f.keyframe, pts: f.pts }),
    );
    if (enc === null) throw new Error('codec addon unavailable');
    this.encoder = enc;
  }

  /** Encodes `count` frames from `frameAt(i)` with pts i, waiting for each output. */
  async encodeAll(
    count: number,
    frameAt: (i: number) => I420Frame,
    before?: (i: number) => void,
  ): Promise<void> {
    const start = this.packets.length;
    for (let i = 0; i < count; i++) {
      before?.(i);
      if (!this.encoder.encode(frameAt(i).data, start + i)) throw new Error(`encoder busy at frame ${i}`);
      await this.encoder.idle();
    }
  }
}

export type DecodeEvent =
  | { kind: 'frame'; pts: number; frame: I420Frame }
  | { kind: 'need'; pts: number; reason: KeyframeNeededReason };

/** A decoder whose pictures (copied) and keyframe requests are recorded in order. */
export class DecoderHarness {
  readonly events: DecodeEvent[] = [];
  readonly decoder: VideoDecoder;

  constructor(options: VideoDecoderOptions, onNeed?: (reason: KeyframeNeededReason) => void) {
    const dec = VideoDecoder.create(options, {
      onFrame: (f) =>
        this.events.push({
          kind: 'frame',
          pts: f.pts,
          frame: { width: f.width, height: f.height, data: f.data.slice() },
        }),
      onKeyframeNeeded: (reason, pts) => {
        this.events.push({ kind: 'need', pts, reason });
        onNeed?.(reason);
      },
    });
    if (dec === null) throw new Error('codec addon unavailable');
    this.decoder = dec;
  }

  async decodeAll(packets: readonly Packet[], skip: ReadonlySet<number> = new Set()): Promise<void> {
    for (let i = 0; i < packets.length; i++) {
      if (skip.has(i)) continue;
      this.decoder.decode(packets[i].data, packets[i].pts);
      await this.decoder.idle();
    }
  }

  frames(): { pts: number; frame: I420Frame }[] {
    return this.events.flatMap((e) => (e.kind === 'frame' ? [{ pts: e.pts, frame: e.frame }] : []));
  }
}

export function tempFile(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codec-test-'));
  return path.join(dir, name);
}

/** Writes an elementary stream: H.264 as concatenated Annex B units, VP8 in an IVF container. */
export function writeStream(
  file: string,
  codec: 'vp8' | 'h264',
  packets: readonly Packet[],
  w: number,
  h: number,
  fps: number,
): void {
  if (codec === 'h264') {
    fs.writeFileSync(file, Buffer.concat(packets.map((p) => p.data)));
    return;
  }
  const header = Buffer.alloc(32);
  header.write('DKIF', 0, 'ascii');
  header.writeUInt16LE(0, 4);
  header.writeUInt16LE(32, 6);
  header.write('VP80', 8, 'ascii');
  header.writeUInt16LE(w, 12);
  header.writeUInt16LE(h, 14);
  header.writeUInt32LE(fps, 16);
  header.writeUInt32LE(1, 20);
  header.writeUInt32LE(packets.length, 24);
  const parts: Buffer[] = [header];
  packets.forEach((p, i) => {
    const fh = Buffer.alloc(12);
    fh.writeUInt32LE(p.data.length, 0);
    fh.writeBigUInt64LE(BigInt(i), 4);
    parts.push(fh, p.data);
  });
  fs.writeFileSync(file, Buffer.concat(parts));
}

function inputArgs(codec: 'vp8' | 'h264', file: string): string[] {
  return codec === 'h264' ? ['-f', 'h264', '-i', file] : ['-f', 'ivf', '-i', file];
}

/** Decodes a file with the ffmpeg CLI into I420 frames. */
export function ffmpegDecode(file: string, codec: 'vp8' | 'h264', w: number, h: number): I420Frame[] {
  const r = spawnSync(
    'ffmpeg',
    ['-v', 'error', ...inputArgs(codec, file), '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1'],
    { maxBuffer: 1 << 30 },
  );
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
  const size = (w * h * 3) / 2;
  const frames: I420Frame[] = [];
  for (let o = 0; o + size <= r.stdout.length; o += size) {
    frames.push({ width: w, height: h, data: new Uint8Array(r.stdout.subarray(o, o + size)) });
  }
  return frames;
}

/** ffprobe's view of each frame: key flag and picture type, plus the stream's profile/level. */
export function ffprobe(
  file: string,
  codec: 'vp8' | 'h264',
): { keys: boolean[]; types: string[]; stream: Record<string, string> } {
  const args = ['-v', 'error', ...(codec === 'h264' ? ['-f', 'h264'] : ['-f', 'ivf']), '-i', file];
  const frames = spawnSync(
    'ffprobe',
    [...args, '-show_entries', 'frame=key_frame,pict_type', '-of', 'csv=p=0'],
    {
      maxBuffer: 1 << 26,
    },
  );
  if (frames.status !== 0) throw new Error(`ffprobe failed: ${frames.stderr.toString()}`);
  const lines = frames.stdout.toString().trim().split('\n').filter(Boolean);
  const stream = spawnSync('ffprobe', [
    ...args,
    '-show_entries',
    'stream=codec_name,profile,level,width,height',
    '-of',
    'default=nw=1',
  ]);
  const fields: Record<string, string> = {};
  for (const line of stream.stdout.toString().trim().split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return {
    keys: lines.map((l) => l.split(',')[0] === '1'),
    types: lines.map((l) => l.split(',')[1]),
    stream: fields,
  };
}
