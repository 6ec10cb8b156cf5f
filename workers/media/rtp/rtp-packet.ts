/**
 * RTP fixed header (RFC 3550 §5.1), read and written in place. The parser fills a caller-owned
 * object so the receive path allocates nothing per packet.
 */
export const RTP_HEADER_BYTES = 12;
/** Largest RTP packet we build: fits a 1280-byte path MTU after SRTP (10-byte tag), UDP and IP. */
export const MAX_RTP_PACKET_BYTES = 1200;

export interface RtpHeader {
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  /** Offset of the payload inside the packet (after CSRCs and header extensions). */
  payloadOffset: number;
  /** Payload length without padding. */
  payloadLength: number;
}

export function emptyRtpHeader(): RtpHeader {
  return {
    marker: false,
    payloadType: 0,
    sequenceNumber: 0,
    timestamp: 0,
    ssrc: 0,
    payloadOffset: 0,
    payloadLength: 0,
  };
}

/** RTCP packet types 192–223 share the second byte with RTP marker+PT (RFC 5761 §4). */
export function isRtcp(packet: Uint8Array): boolean {
  if (packet.length < 2) return false;
  const pt = packet[1];
  return pt >= 192 && pt <= 223;
}

/** Parses `packet` into `out`; false if it is not a well-formed RTP version 2 packet. */
export function parseRtpHeader(packet: Uint8Array, out: RtpHeader): boolean {
  if (packet.length < RTP_HEADER_BYTES) return false;
  const b0 = packet[0];
  if (b0 >> 6 !== 2) return false;
  const csrcCount = b0 & 0x0f;
  let offset = RTP_HEADER_BYTES + csrcCount * 4;
  if (b0 & 0x10) {
    if (packet.length < offset + 4) return false;
    const words = (packet[offset + 2] << 8) | packet[offset + 3];
    offset += 4 + words * 4;
  }
  let end = packet.length;
  if (b0 & 0x20) end -= packet[packet.length - 1];
  if (end < offset) return false;
  out.marker = (packet[1] & 0x80) !== 0;
  out.payloadType = packet[1] & 0x7f;
  out.sequenceNumber = (packet[2] << 8) | packet[3];
  out.timestamp = ((packet[4] << 24) | (packet[5] << 16) | (packet[6] << 8) | packet[7]) >>> 0;
  out.ssrc = ((packet[8] << 24) | (packet[9] << 16) | (packet[10] << 8) | packet[11]) >>> 0;
  out.payloadOffset = offset;
  out.payloadLength = end - offset;
  return true;
}

/** Writes a 12-byte header (no CSRC, no extension) at the start of `buf`. */
export function writeRtpHeader(
  buf: Uint8Array,
  marker: boolean,
  payloadType: number,
  sequenceNumber: number,
  timestamp: number,
  ssrc: number,
): void {
  buf[0] = 0x80;
  buf[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
  buf[2] = (sequenceNumber >> 8) & 0xff;
  buf[3] = sequenceNumber & 0xff;
  buf[4] = (timestamp >>> 24) & 0xff;
  buf[5] = (timestamp >>> 16) & 0xff;
  buf[6] = (timestamp >>> 8) & 0xff;
  buf[7] = timestamp & 0xff;
  buf[8] = (ssrc >>> 24) & 0xff;
  buf[9] = (ssrc >>> 16) & 0xff;
  buf[10] = (ssrc >>> 8) & 0xff;
  buf[11] = ssrc & 0xff;
}

/** Signed distance from sequence number `a` to `b` modulo 2^16 (positive if b is after a). */
export function seqDelta(a: number, b: number): number {
  const d = (b - a) & 0xffff;
  return d >= 0x8000 ? d - 0x10000 : d;
}

/** A random 32-bit non-zero value for SSRCs and initial sequence/timestamp offsets. */
export function random32(): number {
  return ((Math.random() * 0xfffffffe) >>> 0) + 1;
}
