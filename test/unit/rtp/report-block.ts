import type { ReportBlock } from '../../../workers/media/rtp/rtcp';

/** A receiver report block on `ssrc`: cumulative lost and extended highest sequence, no RTT. */
export function reportBlock(ssrc: number, cumulativeLost: number, highestSequence: number): ReportBlock {
  return {
    ssrc,
    fractionLost: 0,
    cumulativeLost,
    highestSequence,
    jitter: 0,
    lastSr: 0,
    delaySinceLastSr: 0,
  };
}
