/**
 * The in-process codec addon (native/codec, built by scripts/setup.js): VP8 (libvpx) and H.264
 * (libx264) encoders with keyframe-on-request and runtime bitrate, H.264/VP8 decoders
 * (libavcodec) that report when they need a keyframe, and Opus (libopus). See docs/codecs.md.
 *
 * Optional like native/yuv-scale: when the addon is not built (no -dev packages, no compiler)
 * loadCodecAddon() returns null, codecsAvailable() says why, and the media worker keeps its
 * @roamhq/wrtc path, which encodes per peer connection inside libwebrtc.
 *
 * This file is the only one of the codec wrapper that imports from outside workers/media.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Logger } from '../../../kernel/logger';

/** Raw callbacks and classes exported by native/codec/src (see the comments at their tops). */
export type NativeEncodeCallback = (
  buffer: ArrayBuffer,
  byteLength: number,
  keyframe: boolean,
  pts: number,
  encodeUs: number,
  dropped: boolean,
  error: string | undefined,
) => void;

export type NativeDecodeCallback = (
  status: number,
  buffer: ArrayBuffer | undefined,
  byteLength: number,
  width: number,
  height: number,
  pts: number,
  decodeUs: number,
  reason: string,
) => void;

export interface NativeVideoEncoderOptions {
  codec: 'vp8' | 'h264';
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
  maxBitrateKbps?: number;
  keyframeIntervalFrames?: number;
  threads?: number;
  bufferMs?: number;
  vp8Speed?: number;
  vp8TokenPartitions?: number;
  frameDropping?: boolean;
  x264Preset?: string;
  sliceMaxBytes?: number;
}

export interface NativeVideoEncoder {
  encode(i420: Uint8Array | Uint8ClampedArray, pts: number): boolean;
  requestKeyframe(): void;
  setBitrate(kbps: number): void;
  close(): void;
  level(): number;
}

export interface NativeVideoDecoder {
  decode(data: Uint8Array, pts: number, lostBefore: boolean): boolean;
  close(): void;
}

export interface NativeOpusEncoderOptions {
  sampleRate: number;
  channels: number;
  application: string;
  bitrateBps: number;
  complexity: number;
  fec: boolean;
  packetLossPercent: number;
  dtx: boolean;
}

export interface NativeOpusEncoder {
  encode(pcm: Int16Array, out: Uint8Array): number;
  setBitrate(bps: number): void;
  setPacketLossPercent(percent: number): void;
  close(): void;
}

export interface NativeOpusDecoder {
  decode(packet: Uint8Array | null, out: Int16Array, fec: boolean): number;
  close(): void;
}

export interface NativeCodecAddon {
  VideoEncoder: new (
    options: NativeVideoEncoderOptions,
    callback: NativeEncodeCallback,
  ) => NativeVideoEncoder;
  VideoDecoder: new (
    options: { codec: 'vp8' | 'h264'; threads?: number; queueSize?: number },
    callback: NativeDecodeCallback,
  ) => NativeVideoDecoder;
  OpusEncoder: new (options: NativeOpusEncoderOptions) => NativeOpusEncoder;
  OpusDecoder: new (options: { sampleRate: number; channels: number }) => NativeOpusDecoder;
  readonly versions: Readonly<Record<'libvpx' | 'x264' | 'libavcodec' | 'libopus', string>>;
}

export interface CodecAvailability {
  available: boolean;
  /** Why not, when not available. */
  reason?: string;
  addon?: string;
  versions?: NativeCodecAddon['versions'];
}

const ADDON = path.join('native', 'codec', 'build', 'Release', 'codec.node');
/** From workers/media/engine/codec (ts-jest) or dist/workers/media/engine/codec (compiled). */
const MAX_LEVELS_UP = 6;

export const codecLog = new Logger('codec');
let loaded: NativeCodecAddon | null | undefined;
let availability: CodecAvailability = { available: false, reason: 'not loaded yet' };

function findAddon(): string | null {
  let dir = __dirname;
  for (let i = 0; i <= MAX_LEVELS_UP; i++) {
    const candidate = path.join(dir, ADDON);
    if (fs.existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return null;
}

function isAddon(mod: Partial<NativeCodecAddon>): mod is NativeCodecAddon {
  return (
    typeof mod.VideoEncoder === 'function' &&
    typeof mod.VideoDecoder === 'function' &&
    typeof mod.OpusEncoder === 'function' &&
    typeof mod.OpusDecoder === 'function' &&
    typeof mod.versions === 'object'
  );
}

/** The addon, or null when it cannot be used. Loads once per process and logs which. */
export function loadCodecAddon(): NativeCodecAddon | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const file = findAddon();
  if (file === null) {
    availability = {
      available: false,
      reason: `native codec addon not built (${ADDON}; needs libvpx-dev libx264-dev libopus-dev libavcodec-dev libavutil-dev, see scripts/setup.js)`,
    };
    codecLog.info('codecs: in-process codecs unavailable, media stays on wrtc', {
      reason: availability.reason,
    });
    return loaded;
  }
  try {
    const mod = require(file) as Partial<NativeCodecAddon>;
    if (!isAddon(mod)) throw new Error('addon does not export the codec classes');
    loaded = mod;
    availability = { available: true, addon: file, versions: mod.versions };
    codecLog.info('codecs: in-process codecs loaded', { addon: file, ...mod.versions });
  } catch (err) {
    // Typically a shared library (libx264.so.164, libvpx.so.7...) missing at run time.
    availability = {
      available: false,
      addon: file,
      reason: `addon failed to load: ${(err as Error).message}`,
    };
    codecLog.warn('codecs: in-process codecs unavailable, media stays on wrtc', { addon: file, err });
  }
  return loaded;
}

/** Whether the in-process codecs can be used, and if not, why. */
export function codecsAvailable(): CodecAvailability {
  loadCodecAddon();
  return availability;
}
