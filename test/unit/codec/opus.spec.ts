import {
  OPUS_DTX_MAX_BYTES,
  OPUS_MAX_PACKET_BYTES,
  OpusDecoder,
  OpusEncoder,
  OpusEncoderOptions,
  opusFrameSamples,
} from '../../../workers/media/engine/codec/opus';
import { goertzel, rmsOf } from '../../helpers/media-analysis';
import { describeCodecs } from './codec-fixtures';

const RATE = 48000;

/** Interleaved tone(s): channel c plays freqs[c]. */
function tone(samples: number, freqs: readonly number[], amplitude = 8000): Int16Array {
  const ch = freqs.length;
  const out = new Int16Array(samples * ch);
  for (let i = 0; i < samples; i++) {
    for (let c = 0; c < ch; c++)
      out[i * ch + c] = Math.round(amplitude * Math.sin((2 * Math.PI * freqs[c] * i) / RATE));
  }
  return out;
}

function channel(pcm: Int16Array, channels: number, c: number): Int16Array {
  const out = new Int16Array(pcm.length / channels);
  for (let i = 0; i < out.length; i++) out[i] = pcm[i * channels + c];
  return out;
}

function makeEncoder(options: OpusEncoderOptions): OpusEncoder {
  const enc = OpusEncoder.create(options);
  if (enc === null) throw new Error('codec addon unavailable');
  return enc;
}

function makeDecoder(channels: 1 | 2 = 1): OpusDecoder {
  const dec = OpusDecoder.create({ channels });
  if (dec === null) throw new Error('codec addon unavailable');
  return dec;
}

/** Encodes `input` frame by frame; returns copies of the packets. */
function encodeAll(enc: OpusEncoder, input: Int16Array, frameMs: number): Uint8Array[] {
  const n = opusFrameSamples(RATE, frameMs, enc.channels);
  const out = new Uint8Array(OPUS_MAX_PACKET_BYTES);
  const packets: Uint8Array[] = [];
  for (let o = 0; o + n <= input.length; o += n) {
    const len = enc.encode(input.subarray(o, o + n), out);
    packets.push(out.slice(0, len));
  }
  return packets;
}

/** Decodes packets (null: lost, concealed) into one buffer. */
function decodeAll(dec: OpusDecoder, packets: readonly (Uint8Array | null)[], frameMs: number): Int16Array {
  const n = opusFrameSamples(RATE, frameMs, dec.channels);
  const pcm = new Int16Array(n * packets.length);
  packets.forEach((p, i) => {
    const frame = pcm.subarray(i * n, (i + 1) * n);
    const got = p === null ? dec.conceal(frame) : dec.decode(p, frame);
    expect(got).toBe(n / dec.channels);
  });
  return pcm;
}

/** Signal-to-error ratio of `x` against `ref`, in dB. */
function snrDb(x: Int16Array, ref: Int16Array): number {
  let s = 0;
  let e = 0;
  for (let i = 0; i < ref.length; i++) {
    s += ref[i] * ref[i];
    e += (x[i] - ref[i]) ** 2;
  }
  return 10 * Math.log10(s / Math.max(e, 1));
}

describeCodecs('Opus', () => {
  it.each([
    [10, 0],
    [10, 10],
    [20, 5],
    [20, 10],
  ])('carries a 440 Hz tone through %i ms frames at complexity %i', (frameMs, complexity) => {
    const enc = makeEncoder({ complexity, bitrateBps: 32000 });
    const dec = makeDecoder();
    const input = tone(RATE, [440]);
    const out = decodeAll(dec, encodeAll(enc, input, frameMs), frameMs);
    // Leave the first 100 ms out: codec delay and the encoder's start-up.
    const steady = out.subarray(RATE / 10);
    expect(goertzel(steady, RATE, 440)).toBeGreaterThan(0.9);
    expect(goertzel(steady, RATE, 1000)).toBeLessThan(0.05);
    expect(rmsOf(steady) / rmsOf(input)).toBeGreaterThan(0.7);
    expect(rmsOf(steady) / rmsOf(input)).toBeLessThan(1.3);
    enc.close();
    dec.close();
  });

  it('keeps stereo channels apart (440 Hz left, 660 Hz right)', () => {
    const enc = makeEncoder({ channels: 2, application: 'audio', bitrateBps: 64000 });
    const dec = makeDecoder(2);
    const out = decodeAll(dec, encodeAll(enc, tone(RATE, [440, 660]), 20), 20).subarray(RATE / 5);
    expect(goertzel(channel(out, 2, 0), RATE, 440)).toBeGreaterThan(0.9);
    expect(goertzel(channel(out, 2, 1), RATE, 660)).toBeGreaterThan(0.9);
    expect(goertzel(channel(out, 2, 0), RATE, 660)).toBeLessThan(0.05);
  });

  it('conceals lost packets (PLC): the tone goes on, with no silent hole', () => {
    const enc = makeEncoder({});
    const dec = makeDecoder();
    const frameMs = 20;
    const packets: (Uint8Array | null)[] = encodeAll(enc, tone(RATE, [440]), frameMs);
    for (let i = 10; i < packets.length; i += 10) packets[i] = null;
    const out = decodeAll(dec, packets, frameMs);
    const n = opusFrameSamples(RATE, frameMs);
    for (let i = 10; i < packets.length; i += 10) {
      const concealed = out.subarray(i * n, (i + 1) * n);
      expect(rmsOf(concealed)).toBeGreaterThan(0.05);
      expect(goertzel(concealed, RATE, 440)).toBeGreaterThan(0.6);
    }
    expect(goertzel(out.subarray(RATE / 10), RATE, 440)).toBeGreaterThan(0.85);
  });

  it('recovers a lost frame from the next packet’s in-band FEC, closer to the original than PLC', () => {
    const frameMs = 20;
    const enc = makeEncoder({ fec: true, packetLossPercent: 20, bitrateBps: 24000 });
    // A tone that steps in pitch every 100 ms, so concealment cannot just continue it.
    const input = new Int16Array(RATE);
    for (let k = 0; k < 10; k++) input.set(tone(RATE / 10, [300 + 70 * k]), (k * RATE) / 10);
    const packets = encodeAll(enc, input, frameMs);
    const n = opusFrameSamples(RATE, frameMs);
    const lost = 25; // the first 20 ms after a pitch step at 500 ms
    const reference = decodeAll(makeDecoder(), packets, frameMs).subarray(lost * n, (lost + 1) * n);

    const viaFec = makeDecoder();
    decodeAll(viaFec, packets.slice(0, lost), frameMs);
    const recovered = new Int16Array(n);
    expect(viaFec.recoverFromNext(packets[lost + 1], recovered)).toBe(n);

    const viaPlc = makeDecoder();
    decodeAll(viaPlc, packets.slice(0, lost), frameMs);
    const concealed = new Int16Array(n);
    viaPlc.conceal(concealed);

    expect(snrDb(recovered, reference)).toBeGreaterThan(snrDb(concealed, reference) + 3);
    expect(rmsOf(recovered)).toBeGreaterThan(0.3 * rmsOf(reference));
  });

  it('sends DTX frames (≤ 2 bytes) in silence when DTX is on, and full frames once sound returns', () => {
    const enc = makeEncoder({ dtx: true });
    const silence = encodeAll(enc, new Int16Array(RATE / 2), 20);
    expect(silence.slice(10).every((p) => p.length <= OPUS_DTX_MAX_BYTES)).toBe(true);
    const sound = encodeAll(enc, tone(RATE / 2, [440]), 20);
    expect(sound.slice(2).every((p) => p.length > OPUS_DTX_MAX_BYTES)).toBe(true);
    const noDtx = encodeAll(makeEncoder({ dtx: false }), new Int16Array(RATE / 2), 20);
    expect(noDtx.slice(10).some((p) => p.length > OPUS_DTX_MAX_BYTES)).toBe(true);
  });

  it('follows setBitrate at run time', () => {
    const enc = makeEncoder({ application: 'audio', bitrateBps: 64000 });
    const music = tone(RATE, [440]);
    for (let i = 0; i < music.length; i++) music[i] += ((i * 7919) % 2000) - 1000;
    const mean = (p: Uint8Array[]): number => p.reduce((s, x) => s + x.length, 0) / p.length;
    const high = mean(encodeAll(enc, music, 20).slice(10));
    enc.setBitrate(16000);
    const low = mean(encodeAll(enc, music, 20).slice(10));
    expect(high * 8 * 50).toBeGreaterThan(45000);
    expect(low * 8 * 50).toBeLessThan(22000);
  });

  it('rejects frames that are not an Opus frame duration', () => {
    const enc = makeEncoder({});
    expect(() => enc.encode(new Int16Array(470), new Uint8Array(OPUS_MAX_PACKET_BYTES))).toThrow(
      /ms of interleaved samples/,
    );
    enc.close();
    expect(() => enc.encode(new Int16Array(480), new Uint8Array(OPUS_MAX_PACKET_BYTES))).toThrow(/closed/);
  });
});
