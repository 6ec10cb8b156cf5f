/**
 * The one clock that stamps every outbound stream of a worker. Audio and video RTP timestamps
 * are both derived from it, and each stream's RTCP sender reports map "now" on this clock to
 * wall-clock NTP time, so a browser can line up audio and video of one peer connection (lip
 * sync) however the frames were scheduled.
 */
export interface RtpClock {
  /** Monotonic milliseconds. */
  nowMs(): number;
  /** Wall-clock (Unix epoch) milliseconds at a time of `nowMs()`'s scale. */
  wallMsAt(monotonicMs: number): number;
}

export const systemRtpClock: RtpClock = {
  nowMs: () => performance.now(),
  wallMsAt: (t) => performance.timeOrigin + t,
};

/**
 * The media timestamp of a frame captured (or composed) at `clockMs` on the RtpClock, in
 * units of `clockRate` (90000 for video, 48000 for Opus), modulo 2^32. Streams add their own
 * random offset on the wire.
 */
export function mediaTimestamp(clockMs: number, clockRate: number): number {
  return Math.round((clockMs * clockRate) / 1000) >>> 0;
}
