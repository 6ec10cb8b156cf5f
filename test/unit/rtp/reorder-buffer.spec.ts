import { ReorderBuffer, type BufferedPacket } from '../../../workers/media/rtp/reorder-buffer';

function packet(seq: number): BufferedPacket {
  return {
    data: new Uint8Array([seq & 0xff]),
    payloadStart: 0,
    payloadEnd: 1,
    sequenceNumber: seq,
    timestamp: seq,
    marker: true,
  };
}

function harness(maxWaitMs = 100) {
  const out: Array<[number, boolean]> = [];
  const missing: number[][] = [];
  const buf = new ReorderBuffer(
    { onPacket: (p, gap) => out.push([p.sequenceNumber, gap]), onMissing: (s) => missing.push([...s]) },
    64,
    maxWaitMs,
  );
  return { buf, out, missing };
}

describe('ReorderBuffer', () => {
  it('releases reordered packets in sequence order across the 16-bit wrap', () => {
    const { buf, out } = harness();
    for (const s of [65534, 0, 65535, 1]) buf.push(packet(s), 0);
    expect(out).toEqual([
      [65534, false],
      [65535, false],
      [0, false],
      [1, false],
    ]);
  });

  it('reports a hole once, and fills it when the retransmission arrives in time', () => {
    const { buf, out, missing } = harness();
    buf.push(packet(10), 0);
    buf.push(packet(13), 1);
    buf.push(packet(14), 2);
    expect(missing).toEqual([[11, 12]]);
    expect(buf.missingNow([])).toEqual([11, 12]);
    buf.push(packet(12), 20);
    buf.push(packet(11), 30);
    expect(out.map((x) => x[0])).toEqual([10, 11, 12, 13, 14]);
    expect(out.every((x) => !x[1])).toBe(true);
    expect(buf.lost).toBe(0);
  });

  it('gives a hole up after maxWaitMs and flags the next packet as following a gap', () => {
    const { buf, out } = harness(100);
    buf.push(packet(1), 0);
    buf.push(packet(3), 10);
    buf.tick(50);
    expect(out).toEqual([[1, false]]);
    buf.tick(111);
    expect(out).toEqual([
      [1, false],
      [3, true],
    ]);
    expect(buf.lost).toBe(1);
    buf.push(packet(2), 120); // too late now
    expect(buf.late).toBe(1);
  });

  it('gives up what falls out of the window when a packet is further ahead than the buffer holds', () => {
    const { buf, out } = harness(100);
    buf.push(packet(100), 0);
    buf.push(packet(500), 1);
    expect(buf.lost).toBe(500 - 64 - 100); // 101..435: out of the 64-packet window at once
    buf.tick(102); // the rest of the window (436..499) is waited for like any hole
    expect(buf.lost).toBe(500 - 100 - 1);
    expect(out).toEqual([
      [100, false],
      [500, true],
    ]);
  });
});
