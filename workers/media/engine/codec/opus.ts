/**
 * Opus (libopus) for per-listener mix-minus audio on the RTP-level path. Synchronous: a 10 or
 * 20 ms frame costs tens of microseconds (bench/micro/codecs.ts), less than a round trip to
 * another thread. The caller owns the input and output arrays, so nothing is allocated per frame.
 */
import { CodecError } from './codec-error';
import { loadCodecAddon, NativeOpusDecoder, NativeOpusEncoder } from './native-codec';

export type OpusSampleRate = 8000 | 12000 | 16000 | 24000 | 48000;

export interface OpusEncoderOptions {
  sampleRate?: OpusSampleRate;
  channels?: 1 | 2;
  /** 'voip' (default: speech, with the voice-band tools), 'audio', or 'lowdelay' (CELT only). */
  application?: 'voip' | 'audio' | 'lowdelay';
  /** Default 32000. */
  bitrateBps?: number;
  /** 0..10, default 10 (libwebrtc uses 9-10 on desktop). */
  complexity?: number;
  /** In-band forward error correction (needs packetLossPercent > 0 to be spent). */
  fec?: boolean;
  /** Expected loss, 0..100: how much FEC the encoder carries. */
  packetLossPercent?: number;
  /** Discontinuous transmission: silence becomes ≤ 2-byte frames that need not be sent. */
  dtx?: boolean;
}

/** The largest Opus packet for one frame (RFC 6716 3.2.1) plus headroom: size `out` with it. */
export const OPUS_MAX_PACKET_BYTES = 1500;

/** A frame of at most this many bytes is DTX ("nothing to send", RFC 6716 / libopus docs). */
export const OPUS_DTX_MAX_BYTES = 2;

export function opusFrameSamples(sampleRate: number, frameMs: number, channels = 1): number {
  return (sampleRate / 1000) * frameMs * channels;
}

export class OpusEncoder {
  private closed = false;

  /** Null when the codec addon is not available; throws CodecError on bad options. */
  static create(options: OpusEncoderOptions = {}): OpusEncoder | null {
    const addon = loadCodecAddon();
    if (addon === null) return null;
    const settings = {
      sampleRate: 48000,
      channels: 1,
      application: 'voip',
      bitrateBps: 32000,
      complexity: 10,
      fec: false,
      packetLossPercent: 0,
      dtx: false,
      ...options,
    };
    try {
      return new OpusEncoder(new addon.OpusEncoder(settings), settings.sampleRate, settings.channels);
    } catch (err) {
      throw new CodecError((err as Error).message);
    }
  }

  private constructor(
    private readonly native: NativeOpusEncoder,
    readonly sampleRate: number,
    readonly channels: number,
  ) {}

  /**
   * Encodes one frame (2.5/5/10/20/40/60 ms of interleaved samples) into `out`; returns the
   * packet length. A length ≤ OPUS_DTX_MAX_BYTES is a DTX frame.
   */
  encode(pcm: Int16Array, out: Uint8Array): number {
    if (this.closed) throw new CodecError('OpusEncoder is closed');
    return this.native.encode(pcm, out);
  }

  setBitrate(bps: number): void {
    this.native.setBitrate(Math.round(bps));
  }

  /** From receiver reports: more expected loss makes the encoder spend more on FEC. */
  setPacketLossPercent(percent: number): void {
    this.native.setPacketLossPercent(Math.max(0, Math.min(100, Math.round(percent))));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
  }
}

export class OpusDecoder {
  private closed = false;

  /** Null when the codec addon is not available. */
  static create(options: { sampleRate?: OpusSampleRate; channels?: 1 | 2 } = {}): OpusDecoder | null {
    const addon = loadCodecAddon();
    if (addon === null) return null;
    const sampleRate = options.sampleRate ?? 48000;
    const channels = options.channels ?? 1;
    try {
      return new OpusDecoder(new addon.OpusDecoder({ sampleRate, channels }), sampleRate, channels);
    } catch (err) {
      throw new CodecError((err as Error).message);
    }
  }

  private constructor(
    private readonly native: NativeOpusDecoder,
    readonly sampleRate: number,
    readonly channels: number,
  ) {}

  /** Decodes a packet into `out` (room for the longest frame expected); returns samples per channel. */
  decode(packet: Uint8Array, out: Int16Array): number {
    return this.call(packet, out, false);
  }

  /**
   * Packet loss concealment: synthesises `out.length / channels` samples (a whole frame
   * duration) in place of a lost packet, continuing the decoder's state smoothly.
   */
  conceal(out: Int16Array): number {
    return this.call(null, out, false);
  }

  /**
   * Recovers a lost frame from the in-band FEC carried by the packet that FOLLOWS it; `out`
   * must be sized for the lost frame's duration. Then decode `next` normally.
   */
  recoverFromNext(next: Uint8Array, out: Int16Array): number {
    return this.call(next, out, true);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
  }

  private call(packet: Uint8Array | null, out: Int16Array, fec: boolean): number {
    if (this.closed) throw new CodecError('OpusDecoder is closed');
    return this.native.decode(packet, out, fec);
  }
}
