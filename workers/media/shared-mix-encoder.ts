import { FRAME_SAMPLES } from './engine/audio/jitter-buffer';
import { OPUS_MAX_PACKET_BYTES, OpusEncoder } from './engine/codec';

/** Opus frames on the RTP-level audio downlinks: 20 ms (two 10 ms mixer ticks), libwebrtc's default. */
export const OPUS_FRAME_TICKS = 2;

/**
 * Settings of every Opus encoder of an RTP-level downlink (own mix-minus or shared full mix),
 * measured with `node dist/bench/micro/opus-mix.js` (docs/overload.md): the `audio` application
 * (CELT) at complexity 5 costs ≈ 42 µs per 20 ms frame against 113 µs for `voip` at 5 and
 * 100 µs for libwebrtc's `voip` at 9, and codes a mix-minus with less noise where the missing
 * voice was (median 36.8 dB below the others against 24.1 and 38.3 over 1 s on the benchmark's
 * tones, bench/tones.ts; 27.8 against 16.8 and 28.2 on its old grid set). Complexity 3 was as good on
 * tones for 28 µs; 5 keeps CELT's pitch pre-filter for speech. In-band FEC exists only in SILK
 * frames, so these frames carry none (a lost frame is concealed by the receiver). 32 kbit/s: inside
 * the audio profile's ≤ 40 kbit/s with room for RTP's own overhead on the weakest links.
 */
export const DOWNLINK_OPUS = { application: 'audio', complexity: 5, bitrateBps: 32_000 } as const;

/**
 * A listener goes onto the shared full-mix stream only after this many 20 ms frames without
 * its own voice in the mix: a speaker's short pauses between words do not switch its stream
 * back and forth (each switch changes the encoder its receiver's decoder follows).
 */
export const QUIET_FRAMES_TO_SHARE = 10;

/**
 * One Opus encode of the room's full mix per 20 ms, whose packets go to every RTP-level
 * listener who is not speaking: such a listener's mix-minus is the full mix (total − nothing),
 * so one encode serves all of them instead of one encoder each; only speakers need their own.
 * The encode is lazy: a frame nobody takes is not encoded (a receiver switching onto this
 * stream switches encoders anyway, so its skipped frames cost nothing audible in addition).
 */
export class SharedMixEncoder {
  private readonly pcm = new Int16Array(FRAME_SAMPLES * OPUS_FRAME_TICKS);
  private readonly packet = new Uint8Array(OPUS_MAX_PACKET_BYTES);
  private length = 0;
  private encoded = false;
  framesEncoded = 0;

  static create(): SharedMixEncoder | null {
    const encoder = OpusEncoder.create(DOWNLINK_OPUS);
    return encoder ? new SharedMixEncoder(encoder) : null;
  }

  private constructor(private readonly encoder: OpusEncoder) {}

  /** Takes one 10 ms tick of the full mix; `half` is its place in the room's 20 ms frame (0, 1). */
  push(mixAll: Int16Array, half: number): void {
    this.pcm.set(mixAll, half * FRAME_SAMPLES);
    if (half === OPUS_FRAME_TICKS - 1) this.encoded = false;
  }

  /** Whether the frame that ended on the last push was encoded (someone took it). */
  get used(): boolean {
    return this.encoded;
  }

  /** The packet of the frame that ended on the last push, encoded on the first call. */
  get frame(): Uint8Array {
    if (!this.encoded) {
      this.length = this.encoder.encode(this.pcm, this.packet);
      this.encoded = true;
      this.framesEncoded++;
    }
    return this.packet.subarray(0, this.length);
  }

  close(): void {
    this.encoder.close();
  }
}
