import { FrameAssembler } from './frame-assembler';

const START_CODE = new Uint8Array([0, 0, 0, 1]);
const NAL_IDR = 5;
const NAL_STAP_A = 24;
const NAL_FU_A = 28;

/**
 * H.264 RTP depacketizer (RFC 6184, packetization-mode 0 and 1: single NAL unit, STAP-A, FU-A)
 * producing Annex-B access units; a frame containing an IDR slice is a keyframe.
 */
export class H264Depacketizer extends FrameAssembler {
  private inFragment = false;

  protected override startFrame(): void {
    this.inFragment = false;
  }

  protected override finishFrame(): boolean {
    return !this.inFragment;
  }

  protected appendPayload(p: Uint8Array): boolean {
    if (p.length < 1) return false;
    const type = p[0] & 0x1f;
    if (type >= 1 && type <= 23) {
      if (this.inFragment) return false;
      this.nal(p);
      return true;
    }
    if (type === NAL_STAP_A) {
      if (this.inFragment) return false;
      let i = 1;
      while (i + 2 <= p.length) {
        const len = (p[i] << 8) | p[i + 1];
        i += 2;
        if (len === 0 || i + len > p.length) return false;
        this.nal(p.subarray(i, i + len));
        i += len;
      }
      return i === p.length;
    }
    if (type === NAL_FU_A) {
      if (p.length < 3) return false;
      const start = (p[1] & 0x80) !== 0;
      const end = (p[1] & 0x40) !== 0;
      if (start) {
        if (this.inFragment) return false;
        const nalType = p[1] & 0x1f;
        this.append(START_CODE);
        this.appendByte((p[0] & 0xe0) | nalType);
        if (nalType === NAL_IDR) this.keyframe = true;
        this.inFragment = true;
      } else if (!this.inFragment) {
        return false;
      }
      this.append(p.subarray(2));
      if (end) this.inFragment = false;
      return true;
    }
    return false; // STAP-B, MTAP, FU-B: not in packetization-mode 1 as browsers send it
  }

  private nal(n: Uint8Array): void {
    if ((n[0] & 0x1f) === NAL_IDR) this.keyframe = true;
    this.append(START_CODE);
    this.append(n);
  }
}
