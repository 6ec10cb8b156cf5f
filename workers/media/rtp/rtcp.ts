/**
 * The RTCP packets this stack speaks (RFC 3550 SR/RR/SDES, RFC 4585 NACK/PLI, RFC 5104 FIR,
 * draft-alvestrand-rmcat-remb REMB): a parser for compound packets and builders. RTCP runs at
 * a few packets per second per stream, so plain objects are fine here.
 */
export interface ReportBlock {
  ssrc: number;
  /** Fraction lost since the previous report, 0..1. */
  fractionLost: number;
  cumulativeLost: number;
  highestSequence: number;
  /** Interarrival jitter in RTP timestamp units. */
  jitter: number;
  lastSr: number;
  delaySinceLastSr: number;
}

export type RtcpPacket =
  | {
      type: 'sr';
      ssrc: number;
      ntpMsw: number;
      ntpLsw: number;
      rtpTimestamp: number;
      packets: number;
      octets: number;
      reports: ReportBlock[];
    }
  | { type: 'rr'; ssrc: number; reports: ReportBlock[] }
  | { type: 'nack'; senderSsrc: number; mediaSsrc: number; sequenceNumbers: number[] }
  | { type: 'pli'; senderSsrc: number; mediaSsrc: number }
  | { type: 'fir'; senderSsrc: number; mediaSsrcs: number[] }
  | { type: 'remb'; senderSsrc: number; bitrate: number; ssrcs: number[] }
  | { type: 'other'; packetType: number; format: number };

const SR = 200;
const RR = 201;
const SDES = 202;
const RTPFB = 205;
const PSFB = 206;

function u32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

function put32(b: Uint8Array, i: number, v: number): void {
  b[i] = (v >>> 24) & 0xff;
  b[i + 1] = (v >>> 16) & 0xff;
  b[i + 2] = (v >>> 8) & 0xff;
  b[i + 3] = v & 0xff;
}

function header(b: Uint8Array, count: number, packetType: number, lengthBytes: number): void {
  b[0] = 0x80 | (count & 0x1f);
  b[1] = packetType;
  const words = lengthBytes / 4 - 1;
  b[2] = words >> 8;
  b[3] = words & 0xff;
}

function reportBlocks(b: Uint8Array, at: number, count: number): ReportBlock[] {
  const out: ReportBlock[] = [];
  for (let k = 0; k < count && at + 24 <= b.length; k++, at += 24) {
    let lost = (b[at + 5] << 16) | (b[at + 6] << 8) | b[at + 7];
    if (lost & 0x800000) lost -= 0x1000000;
    out.push({
      ssrc: u32(b, at),
      fractionLost: b[at + 4] / 256,
      cumulativeLost: lost,
      highestSequence: u32(b, at + 8),
      jitter: u32(b, at + 12),
      lastSr: u32(b, at + 16),
      delaySinceLastSr: u32(b, at + 20),
    });
  }
  return out;
}

/** Parses a (compound) RTCP packet; malformed trailing parts are ignored. */
export function parseRtcp(b: Uint8Array): RtcpPacket[] {
  const out: RtcpPacket[] = [];
  let at = 0;
  while (at + 4 <= b.length) {
    if (b[at] >> 6 !== 2) break;
    const count = b[at] & 0x1f;
    const pt = b[at + 1];
    const len = (((b[at + 2] << 8) | b[at + 3]) + 1) * 4;
    if (at + len > b.length) break;
    const p = b.subarray(at, at + len);
    if (pt === SR && len >= 28) {
      out.push({
        type: 'sr',
        ssrc: u32(p, 4),
        ntpMsw: u32(p, 8),
        ntpLsw: u32(p, 12),
        rtpTimestamp: u32(p, 16),
        packets: u32(p, 20),
        octets: u32(p, 24),
        reports: reportBlocks(p, 28, count),
      });
    } else if (pt === RR && len >= 8) {
      out.push({ type: 'rr', ssrc: u32(p, 4), reports: reportBlocks(p, 8, count) });
    } else if (pt === RTPFB && count === 1 && len >= 12) {
      const seqs: number[] = [];
      for (let i = 12; i + 4 <= len; i += 4) {
        const pid = (p[i] << 8) | p[i + 1];
        const blp = (p[i + 2] << 8) | p[i + 3];
        seqs.push(pid);
        for (let bit = 0; bit < 16; bit++) if (blp & (1 << bit)) seqs.push((pid + bit + 1) & 0xffff);
      }
      out.push({ type: 'nack', senderSsrc: u32(p, 4), mediaSsrc: u32(p, 8), sequenceNumbers: seqs });
    } else if (pt === PSFB && count === 1 && len >= 12) {
      out.push({ type: 'pli', senderSsrc: u32(p, 4), mediaSsrc: u32(p, 8) });
    } else if (pt === PSFB && count === 4 && len >= 12) {
      const ssrcs: number[] = [];
      for (let i = 12; i + 8 <= len; i += 8) ssrcs.push(u32(p, i));
      out.push({ type: 'fir', senderSsrc: u32(p, 4), mediaSsrcs: ssrcs });
    } else if (
      pt === PSFB &&
      count === 15 &&
      len >= 20 &&
      p[12] === 0x52 &&
      p[13] === 0x45 &&
      p[14] === 0x4d &&
      p[15] === 0x42
    ) {
      const n = p[16];
      const exp = p[17] >> 2;
      const mantissa = ((p[17] & 0x03) << 16) | (p[18] << 8) | p[19];
      const ssrcs: number[] = [];
      for (let i = 0; i < n && 20 + i * 4 + 4 <= len; i++) ssrcs.push(u32(p, 20 + i * 4));
      out.push({ type: 'remb', senderSsrc: u32(p, 4), bitrate: mantissa * 2 ** exp, ssrcs });
    } else {
      out.push({ type: 'other', packetType: pt, format: count });
    }
    at += len;
  }
  return out;
}

/** Wall-clock milliseconds (Unix epoch) → 64-bit NTP timestamp as two 32-bit words. */
export function ntpFromUnixMs(ms: number): { msw: number; lsw: number } {
  const seconds = ms / 1000 + 2208988800;
  const msw = Math.floor(seconds);
  return { msw: msw >>> 0, lsw: Math.floor((seconds - msw) * 0x100000000) >>> 0 };
}

/** 64-bit NTP timestamp (two 32-bit words) → wall-clock milliseconds (Unix epoch). */
export function unixMsFromNtp(msw: number, lsw: number): number {
  return ((msw >>> 0) - 2208988800) * 1000 + ((lsw >>> 0) / 0x100000000) * 1000;
}

/** The middle 32 bits of an NTP timestamp, as used by LSR/DLSR (units of 1/65536 s). */
export function ntpMiddle(msw: number, lsw: number): number {
  return (((msw & 0xffff) << 16) | (lsw >>> 16)) >>> 0;
}

function writeBlock(b: Uint8Array, at: number, r: ReportBlock): void {
  put32(b, at, r.ssrc);
  const lost = Math.max(-0x800000, Math.min(0x7fffff, r.cumulativeLost)) & 0xffffff;
  put32(b, at + 4, lost);
  b[at + 4] = Math.min(255, Math.floor(r.fractionLost * 256));
  put32(b, at + 8, r.highestSequence);
  put32(b, at + 12, r.jitter);
  put32(b, at + 16, r.lastSr);
  put32(b, at + 20, r.delaySinceLastSr);
}

/** SR (with optional report blocks) followed by an SDES CNAME chunk, as RFC 3550 §6.1 wants. */
export function buildSenderReport(
  ssrc: number,
  ntp: { msw: number; lsw: number },
  rtpTimestamp: number,
  packets: number,
  octets: number,
  cname: string,
  reports: ReportBlock[] = [],
): Buffer {
  const srLen = 28 + reports.length * 24;
  const sdes = sdesLength(cname);
  const b = Buffer.alloc(srLen + sdes);
  header(b, reports.length, SR, srLen);
  put32(b, 4, ssrc);
  put32(b, 8, ntp.msw);
  put32(b, 12, ntp.lsw);
  put32(b, 16, rtpTimestamp >>> 0);
  put32(b, 20, packets >>> 0);
  put32(b, 24, octets >>> 0);
  reports.forEach((r, i) => writeBlock(b, 28 + i * 24, r));
  writeSdes(b.subarray(srLen), ssrc, cname);
  return b;
}

/** RR for a receive-only endpoint (its own SSRC need not send anything). */
export function buildReceiverReport(ssrc: number, reports: ReportBlock[]): Buffer {
  const len = 8 + reports.length * 24;
  const b = Buffer.alloc(len);
  header(b, reports.length, RR, len);
  put32(b, 4, ssrc);
  reports.forEach((r, i) => writeBlock(b, 8 + i * 24, r));
  return b;
}

function sdesLength(cname: string): number {
  const text = Buffer.byteLength(cname);
  // header + ssrc + (type, length, text) + at least one zero byte, padded to 32 bits
  return 4 + Math.ceil((4 + 2 + text + 1) / 4) * 4;
}

function writeSdes(b: Uint8Array, ssrc: number, cname: string): void {
  header(b, 1, SDES, b.length);
  put32(b, 4, ssrc);
  const text = Buffer.from(cname);
  b[8] = 1; // CNAME
  b[9] = text.length;
  b.set(text, 10);
}

/** Generic NACK (RFC 4585 §6.2.1) for the given lost sequence numbers. */
export function buildNack(senderSsrc: number, mediaSsrc: number, lost: readonly number[]): Buffer {
  const items: Array<[number, number]> = [];
  // Sorted by distance from the first one, so a run across the 16-bit wrap stays in order.
  const base = lost.length > 0 ? lost[0] : 0;
  const sorted = [...lost].sort((a, b) => ((a - base) & 0xffff) - ((b - base) & 0xffff));
  for (const seq of sorted) {
    const last = items[items.length - 1];
    const d = last ? (seq - last[0]) & 0xffff : 0;
    if (last && d >= 1 && d <= 16) last[1] |= 1 << (d - 1);
    else items.push([seq, 0]);
  }
  const b = Buffer.alloc(12 + items.length * 4);
  header(b, 1, RTPFB, b.length);
  put32(b, 4, senderSsrc);
  put32(b, 8, mediaSsrc);
  items.forEach(([pid, blp], i) => {
    b[12 + i * 4] = pid >> 8;
    b[13 + i * 4] = pid & 0xff;
    b[14 + i * 4] = blp >> 8;
    b[15 + i * 4] = blp & 0xff;
  });
  return b;
}

export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
  const b = Buffer.alloc(12);
  header(b, 1, PSFB, 12);
  put32(b, 4, senderSsrc);
  put32(b, 8, mediaSsrc);
  return b;
}

export function buildFir(senderSsrc: number, mediaSsrc: number, sequence: number): Buffer {
  const b = Buffer.alloc(20);
  header(b, 4, PSFB, 20);
  put32(b, 4, senderSsrc);
  put32(b, 12, mediaSsrc);
  b[16] = sequence & 0xff;
  return b;
}

/** REMB: the receiver's estimate of the bandwidth it can take, for the listed streams. */
export function buildRemb(senderSsrc: number, bitrate: number, ssrcs: readonly number[]): Buffer {
  const b = Buffer.alloc(20 + ssrcs.length * 4);
  header(b, 15, PSFB, b.length);
  put32(b, 4, senderSsrc);
  b.set([0x52, 0x45, 0x4d, 0x42], 12); // 'REMB'
  let mantissa = Math.max(0, Math.floor(bitrate));
  let exp = 0;
  while (mantissa > 0x3ffff) {
    mantissa = Math.floor(mantissa / 2);
    exp++;
  }
  b[16] = ssrcs.length;
  b[17] = (exp << 2) | (mantissa >> 16);
  b[18] = (mantissa >> 8) & 0xff;
  b[19] = mantissa & 0xff;
  ssrcs.forEach((s, i) => put32(b, 20 + i * 4, s));
  return b;
}
