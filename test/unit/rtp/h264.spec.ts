import type { ReceivedFrame } from '../../../workers/media/rtp/frame-assembler';
import { H264Depacketizer } from '../../../workers/media/rtp/h264-depacketizer';
import { forEachAnnexBNal, H264Packetizer } from '../../../workers/media/rtp/h264-packetizer';
import { MAX_PAYLOAD_BYTES } from '../../../workers/media/rtp/payloads';

/** NAL units with recognisable content: header byte, then bytes counting from `seed`. */
function nal(header: number, size: number, seed: number): Uint8Array {
  const n = new Uint8Array(size);
  n[0] = header;
  for (let i = 1; i < size; i++) n[i] = (seed + i) & 0xff || 1;
  return n;
}

function annexB(nals: Uint8Array[], startCode = [0, 0, 0, 1]): Uint8Array {
  const parts: number[] = [];
  for (const n of nals) parts.push(...startCode, ...n);
  return Uint8Array.from(parts);
}

const AUD = Uint8Array.from([0x09, 0xf0]);
const SPS = nal(0x67, 12, 3);
const PPS = nal(0x68, 5, 7);
const IDR = nal(0x65, 5000, 11); // > one packet: FU-A
const SLICE = nal(0x41, 300, 13);

function packetsOf(au: Uint8Array): Uint8Array[] {
  const list = new H264Packetizer().packetize(au);
  return Array.from({ length: list.count }, (_, i) => Uint8Array.from(list.payload(i)));
}

function depacketize(payloads: Uint8Array[], gapAt = -1) {
  const d = new H264Depacketizer();
  let frame: ReceivedFrame | null = null;
  for (let i = 0; i < payloads.length; i++) {
    if (i === gapAt) continue;
    frame = d.push(payloads[i], 1234, i === payloads.length - 1, gapAt >= 0 && i === gapAt + 1) ?? frame;
  }
  return { frame, discarded: d.discarded };
}

describe('H.264 RTP packetization (RFC 6184, mode 1)', () => {
  it('finds NAL units behind 3- and 4-byte start codes', () => {
    const stream = Uint8Array.from([0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5]);
    const found: number[][] = [];
    forEachAnnexBNal(stream, (s, e) => found.push(Array.from(stream.subarray(s, e))));
    expect(found).toEqual([
      [0x67, 1, 2],
      [0x68, 3],
      [0x65, 4, 5],
    ]);
  });

  it('aggregates SPS and PPS into one STAP-A, fragments a large IDR into FU-A, drops the AUD', () => {
    const payloads = packetsOf(annexB([AUD, SPS, PPS, IDR]));
    expect(payloads[0][0] & 0x1f).toBe(24); // STAP-A
    expect(payloads.slice(1).every((p) => (p[0] & 0x1f) === 28)).toBe(true);
    expect(payloads[1][1] & 0x80).toBe(0x80); // FU start
    expect(payloads[payloads.length - 1][1] & 0x40).toBe(0x40); // FU end
    expect(payloads.every((p) => p.length <= MAX_PAYLOAD_BYTES)).toBe(true);
  });

  it('round-trips an access unit to Annex-B with every NAL intact and flags it as a keyframe', () => {
    const { frame } = depacketize(packetsOf(annexB([AUD, SPS, PPS, IDR], [0, 0, 1])));
    expect(frame).not.toBeNull();
    expect(frame?.keyframe).toBe(true);
    expect(Array.from(frame?.data ?? [])).toEqual(Array.from(annexB([SPS, PPS, IDR])));
  });

  it('sends a small NAL alone and marks a frame without IDR as not a keyframe', () => {
    const payloads = packetsOf(annexB([SLICE]));
    expect(payloads).toHaveLength(1);
    expect(payloads[0][0]).toBe(0x41);
    const { frame } = depacketize(payloads);
    expect(frame?.keyframe).toBe(false);
    expect(Array.from(frame?.data ?? [])).toEqual(Array.from(annexB([SLICE])));
  });

  it('discards a frame whose middle FU-A fragment was lost instead of emitting a broken one', () => {
    const payloads = packetsOf(annexB([SPS, PPS, IDR]));
    const { frame, discarded } = depacketize(payloads, 2);
    expect(frame).toBeNull();
    expect(discarded).toBe(1);
  });

  it('discards a frame that lost its last packet when the next frame starts', () => {
    const d = new H264Depacketizer();
    const first = packetsOf(annexB([IDR]));
    first.slice(0, -1).forEach((p) => expect(d.push(p, 1, false, false)).toBeNull());
    // The gap also hides whether the new frame is whole: both are dropped.
    const next = d.push(packetsOf(annexB([SLICE]))[0], 2, true, true);
    expect(next).toBeNull();
    expect(d.discarded).toBe(2);
    expect(d.push(packetsOf(annexB([SLICE]))[0], 3, true, false)?.data.length).toBe(SLICE.length + 4);
  });

  it('rejects an FU-A that ends before its marker packet is complete', () => {
    const d = new H264Depacketizer();
    const payloads = packetsOf(annexB([IDR]));
    // The first fragment alone, flagged as the end of the frame: no FU end bit seen.
    expect(d.push(payloads[0], 5, true, false)).toBeNull();
    expect(d.discarded).toBe(1);
  });
});
