import { MAX_PAYLOAD_BYTES, PayloadList, type RtpPacketizer } from './payloads';

const NAL_STAP_A = 24;
const NAL_FU_A = 28;
const NAL_AUD = 9;

/**
 * Calls `visit(start, end)` for every NAL unit of an Annex-B byte stream (3- or 4-byte start
 * codes); trailing zero bytes before a start code belong to the next start code, not the NAL.
 */
export function forEachAnnexBNal(data: Uint8Array, visit: (start: number, end: number) => void): void {
  let nalStart = -1;
  let i = 0;
  const n = data.length;
  while (i + 2 < n) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      if (nalStart >= 0) {
        let end = i;
        while (end > nalStart && data[end - 1] === 0) end--;
        if (end > nalStart) visit(nalStart, end);
      }
      i += 3;
      nalStart = i;
    } else {
      i++;
    }
  }
  if (nalStart >= 0 && nalStart < n) visit(nalStart, n);
}

/**
 * H.264 RTP packetizer, packetization-mode 1 (RFC 6184): NAL units that fit go out alone or,
 * when several consecutive small ones fit together (SPS + PPS before an IDR), aggregated in one
 * STAP-A; larger ones are cut into FU-A fragments. Access-unit delimiters are dropped (RFC 6184
 * leaves them to the receiver and browsers do not need them).
 */
export class H264Packetizer implements RtpPacketizer {
  private readonly out = new PayloadList();
  private readonly nalStarts: number[] = [];
  private readonly nalEnds: number[] = [];

  constructor(private readonly maxPayload = MAX_PAYLOAD_BYTES) {}

  packetize(accessUnit: Uint8Array): PayloadList {
    const out = this.out;
    out.reset(accessUnit.length);
    let count = 0;
    forEachAnnexBNal(accessUnit, (start, end) => {
      if ((accessUnit[start] & 0x1f) === NAL_AUD) return;
      this.nalStarts[count] = start;
      this.nalEnds[count] = end;
      count++;
    });
    let i = 0;
    while (i < count) {
      const size = this.nalEnds[i] - this.nalStarts[i];
      if (size > this.maxPayload) {
        this.fragment(accessUnit, this.nalStarts[i], this.nalEnds[i]);
        i++;
        continue;
      }
      // How many following NALs fit into one STAP-A with this one (1 header + 2 bytes per NAL).
      let j = i;
      let stapSize = 1;
      while (j < count) {
        const s = this.nalEnds[j] - this.nalStarts[j];
        if (stapSize + 2 + s > this.maxPayload) break;
        stapSize += 2 + s;
        j++;
      }
      if (j - i >= 2) {
        this.aggregate(accessUnit, i, j, stapSize);
        i = j;
      } else {
        const at = out.begin(size);
        out.buffer.set(accessUnit.subarray(this.nalStarts[i], this.nalEnds[i]), at);
        i++;
      }
    }
    return out;
  }

  private aggregate(au: Uint8Array, from: number, to: number, size: number): void {
    const buf = this.out.buffer;
    let at = this.out.begin(size);
    let nri = 0;
    for (let k = from; k < to; k++) nri = Math.max(nri, au[this.nalStarts[k]] & 0x60);
    buf[at++] = nri | NAL_STAP_A;
    for (let k = from; k < to; k++) {
      const s = this.nalStarts[k];
      const len = this.nalEnds[k] - s;
      buf[at++] = len >> 8;
      buf[at++] = len & 0xff;
      buf.set(au.subarray(s, s + len), at);
      at += len;
    }
  }

  private fragment(au: Uint8Array, start: number, end: number): void {
    const header = au[start];
    const indicator = (header & 0xe0) | NAL_FU_A;
    const type = header & 0x1f;
    const chunk = this.maxPayload - 2;
    let pos = start + 1;
    while (pos < end) {
      const len = Math.min(chunk, end - pos);
      const at = this.out.begin(len + 2);
      const buf = this.out.buffer;
      buf[at] = indicator;
      buf[at + 1] = (pos === start + 1 ? 0x80 : 0) | (pos + len === end ? 0x40 : 0) | type;
      buf.set(au.subarray(pos, pos + len), at + 2);
      pos += len;
    }
  }
}
