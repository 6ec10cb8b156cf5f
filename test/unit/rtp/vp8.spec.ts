import type { ReceivedFrame } from '../../../workers/media/rtp/frame-assembler';
import { vp8DescriptorLength, Vp8Depacketizer, Vp8Packetizer } from '../../../workers/media/rtp/vp8-rtp';

function frame(size: number, key: boolean): Uint8Array {
  const f = new Uint8Array(size);
  for (let i = 0; i < size; i++) f[i] = (i * 7 + 3) & 0xff;
  f[0] = key ? 0x10 : 0x11; // frame tag: P bit (bit 0) 0 = key frame
  return f;
}

function packetize(p: Vp8Packetizer, f: Uint8Array): Uint8Array[] {
  const list = p.packetize(f);
  return Array.from({ length: list.count }, (_, i) => Uint8Array.from(list.payload(i)));
}

describe('VP8 RTP packetization (RFC 7741)', () => {
  it('writes S on the first packet only and a 15-bit picture ID that increases per frame', () => {
    const p = new Vp8Packetizer(1186, 0x7ffe);
    const a = packetize(p, frame(3000, true));
    const b = packetize(p, frame(100, false));
    expect(a.length).toBe(3);
    expect(a.map((x) => (x[0] & 0x10) !== 0)).toEqual([true, false, false]);
    expect(a.every((x) => vp8DescriptorLength(x) === 4)).toBe(true);
    const pid = (x: Uint8Array) => ((x[2] & 0x7f) << 8) | x[3];
    expect(pid(a[0])).toBe(0x7ffe);
    expect(pid(b[0])).toBe(0x7fff);
    expect(pid(packetize(p, frame(10, false))[0])).toBe(0); // wraps at 15 bits
  });

  it('round-trips key and delta frames byte for byte', () => {
    const p = new Vp8Packetizer();
    const d = new Vp8Depacketizer();
    for (const [size, key] of [
      [5000, true],
      [700, false],
    ] as const) {
      const f = frame(size, key);
      const packets = packetize(p, f);
      let got: ReceivedFrame | null = null;
      for (let i = 0; i < packets.length; i++)
        got = d.push(packets[i], size, i === packets.length - 1, false) ?? got;
      expect(got?.keyframe).toBe(key);
      expect(Buffer.from(got?.data ?? []).equals(Buffer.from(f))).toBe(true);
    }
  });

  it('discards a frame that lost its first packet', () => {
    const d = new Vp8Depacketizer();
    const packets = packetize(new Vp8Packetizer(), frame(3000, true));
    expect(d.push(packets[1], 9, false, true)).toBeNull();
    expect(d.push(packets[2], 9, true, false)).toBeNull();
    expect(d.discarded).toBe(1);
  });

  it('reads descriptors with TL0PICIDX and TID/KEYIDX fields as browsers send them', () => {
    // X=1,S=1; I=1,L=1,T=1; 7-bit picture ID; TL0PICIDX; TID byte; then the payload header.
    const p = Uint8Array.from([0x90, 0xe0, 0x05, 0x01, 0x20, 0x10, 0xaa]);
    expect(vp8DescriptorLength(p)).toBe(5);
    const d = new Vp8Depacketizer();
    expect(d.push(p, 1, true, false)?.data).toEqual(Uint8Array.from([0x10, 0xaa]));
  });
});
