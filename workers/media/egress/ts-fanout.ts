/** MPEG-TS packets are 188 bytes and start with this sync byte. */
export const TS_PACKET = 188;
const SYNC = 0x47;
const PAT_PID = 0;

/** Where the fan-out writes one destination's bytes; false = back-pressure (the sink is full). */
export interface TsSink {
  write(chunk: Buffer): boolean;
}

interface Attached {
  sink: TsSink;
  /** Waiting for the next video keyframe: a remux that starts mid-GOP would emit broken video. */
  waiting: boolean;
}

/**
 * Fans one encoded MPEG-TS stream (the egress encoder's stdout) out to several remux processes.
 * A destination that attaches (or re-attaches after a restart, or after overflowing) starts at
 * the next video keyframe, preceded by the latest PAT and PMT, so its ffmpeg sees a stream that
 * begins like a fresh one. Bytes are passed on in whole 188-byte packets.
 *
 * Why parse at all: ffmpeg's mpegts muxer marks keyframes (random_access_indicator on the PES
 * start of a video keyframe) and repeats PAT/PMT before each, so a byte-exact cut there is a
 * valid stream; cutting anywhere else gives the remux garbage until the next keyframe.
 */
export class TsFanout {
  private readonly sinks = new Map<string, Attached>();
  private remainder: Buffer = Buffer.alloc(0);
  private pat: Buffer | null = null;
  private pmt: Buffer | null = null;
  private pmtPid = -1;
  packets = 0;

  attach(id: string, sink: TsSink): void {
    this.sinks.set(id, { sink, waiting: true });
  }

  detach(id: string): void {
    this.sinks.delete(id);
  }

  /** After back-pressure: the sink's next bytes start again at a keyframe. */
  resync(id: string): void {
    const a = this.sinks.get(id);
    if (a) a.waiting = true;
  }

  get size(): number {
    return this.sinks.size;
  }

  push(chunk: Buffer): void {
    let data = this.remainder.length ? Buffer.concat([this.remainder, chunk]) : chunk;
    // Resynchronise on the sync byte if the stream ever starts mid-packet (it should not).
    let start = 0;
    while (start < data.length && data[start] !== SYNC) start++;
    data = data.subarray(start);
    const whole = data.length - (data.length % TS_PACKET);
    this.remainder = Buffer.from(data.subarray(whole));
    if (whole === 0) return;
    const block = data.subarray(0, whole);
    const anyWaiting = this.scanAndTrack(block);
    for (const a of this.sinks.values()) {
      if (!a.waiting) {
        a.sink.write(block);
        continue;
      }
      if (!anyWaiting) continue;
      const at = this.keyframeOffset(block);
      if (at < 0) continue;
      a.waiting = false;
      if (this.pat && this.pmt) a.sink.write(Buffer.concat([this.pat, this.pmt]));
      a.sink.write(block.subarray(at));
    }
  }

  /** Keeps the latest PAT and PMT; returns whether any sink waits (then keyframes are looked for). */
  private scanAndTrack(block: Buffer): boolean {
    for (let off = 0; off < block.length; off += TS_PACKET) {
      this.packets++;
      const pid = ((block[off + 1] & 0x1f) << 8) | block[off + 2];
      if (pid === PAT_PID) {
        this.pat = Buffer.from(block.subarray(off, off + TS_PACKET));
        this.pmtPid = patPmtPid(this.pat);
      } else if (pid === this.pmtPid) {
        this.pmt = Buffer.from(block.subarray(off, off + TS_PACKET));
      }
    }
    for (const a of this.sinks.values()) if (a.waiting) return true;
    return false;
  }

  /** Offset of the first packet that starts a video keyframe's PES, or -1. */
  private keyframeOffset(block: Buffer): number {
    for (let off = 0; off < block.length; off += TS_PACKET) {
      if (isVideoKeyframeStart(block, off)) return off;
    }
    return -1;
  }
}

/** The PMT's PID of the first program in a PAT packet. */
function patPmtPid(p: Buffer): number {
  if (!(p[1] & 0x40)) return -1; // not the section's first packet
  const afc = (p[3] >> 4) & 3;
  let i = 4;
  if (afc & 2) i += 1 + p[4];
  i += 1 + p[i]; // pointer field
  // table header (8 bytes), then entries: program_number (2), reserved+PID (2)
  for (let e = i + 8; e + 4 <= TS_PACKET - 4; e += 4) {
    const program = (p[e] << 8) | p[e + 1];
    if (program !== 0) return ((p[e + 2] & 0x1f) << 8) | p[e + 3];
  }
  return -1;
}

/** Payload unit start + random access indicator + a video PES (stream id 0xE0-0xEF). */
export function isVideoKeyframeStart(b: Buffer, off: number): boolean {
  if (!(b[off + 1] & 0x40)) return false;
  const afc = (b[off + 3] >> 4) & 3;
  if (!(afc & 2) || !(afc & 1)) return false;
  const afLen = b[off + 4];
  if (afLen === 0 || !(b[off + 5] & 0x40)) return false;
  const pes = off + 5 + afLen;
  if (pes + 4 > off + TS_PACKET) return false;
  return b[pes] === 0 && b[pes + 1] === 0 && b[pes + 2] === 1 && (b[pes + 3] & 0xf0) === 0xe0;
}
