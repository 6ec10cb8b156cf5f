import { FrameAssembler } from './frame-assembler';
import { MAX_PAYLOAD_BYTES, PayloadList, type RtpPacketizer } from './payloads';

/** Bytes of the payload descriptor we write: X, I with a 15-bit picture ID. */
const DESCRIPTOR_BYTES = 4;

/**
 * VP8 RTP packetizer (RFC 7741 §4.2): the frame is cut into equal-sized packets (no partition
 * boundaries: browsers do not need them) behind a descriptor with S set on the first packet and a
 * 15-bit picture ID that increases per frame, so a receiver can tell which frame a loss hit.
 */
export class Vp8Packetizer implements RtpPacketizer {
  private readonly out = new PayloadList();
  private pictureId: number;

  constructor(
    private readonly maxPayload = MAX_PAYLOAD_BYTES,
    initialPictureId = Math.floor(Math.random() * 0x8000),
  ) {
    this.pictureId = initialPictureId & 0x7fff;
  }

  packetize(frame: Uint8Array): PayloadList {
    const out = this.out;
    out.reset(frame.length);
    const chunk = this.maxPayload - DESCRIPTOR_BYTES;
    // Equal sizes rather than full packets plus a small tail: fewer bytes at risk per packet.
    const packets = Math.max(1, Math.ceil(frame.length / chunk));
    const size = Math.ceil(frame.length / packets);
    const pid = this.pictureId;
    this.pictureId = (this.pictureId + 1) & 0x7fff;
    let pos = 0;
    for (let i = 0; i < packets; i++) {
      const len = Math.min(size, frame.length - pos);
      const at = out.begin(len + DESCRIPTOR_BYTES);
      const buf = out.buffer;
      buf[at] = 0x80 | (i === 0 ? 0x10 : 0); // X, S on the first packet, PID 0
      buf[at + 1] = 0x80; // I: picture ID present
      buf[at + 2] = 0x80 | (pid >> 8); // M: 15-bit picture ID
      buf[at + 3] = pid & 0xff;
      buf.set(frame.subarray(pos, pos + len), at + DESCRIPTOR_BYTES);
      pos += len;
    }
    return out;
  }
}

/** Length of a VP8 payload descriptor (RFC 7741 §4.2), or -1 if malformed. */
export function vp8DescriptorLength(p: Uint8Array): number {
  if (p.length < 1) return -1;
  let i = 1;
  if (p[0] & 0x80) {
    if (p.length < 2) return -1;
    const x = p[1];
    i = 2;
    if (x & 0x80) {
      if (p.length <= i) return -1;
      i += p[i] & 0x80 ? 2 : 1;
    }
    if (x & 0x40) i++; // TL0PICIDX
    if (x & 0x30) i++; // TID / KEYIDX
  }
  return i <= p.length ? i : -1;
}

/** VP8 RTP depacketizer: frames start at S=1 with partition 0 and end at the marker bit. */
export class Vp8Depacketizer extends FrameAssembler {
  private started = false;

  protected override startFrame(): void {
    this.started = false;
  }

  protected appendPayload(p: Uint8Array): boolean {
    const d = vp8DescriptorLength(p);
    if (d < 0) return false;
    const frameStart = (p[0] & 0x10) !== 0 && (p[0] & 0x07) === 0;
    if (frameStart) {
      if (this.started || d >= p.length) return false;
      this.started = true;
      // VP8 frame tag (RFC 6386 §9.1): P bit 0 = key frame.
      this.keyframe = (p[d] & 0x01) === 0;
    } else if (!this.started) {
      return false;
    }
    this.append(p.subarray(d));
    return true;
  }
}
