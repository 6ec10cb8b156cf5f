/**
 * The room's media time grid: one 10 ms audio tick drives everything, and the composite is made
 * on a 30 fps base grid laid over it (frame f is made at the first tick at or after f·33.3 ms, so
 * at ticks 0, 40, 70, 100, … ms). Slower profiles take every k-th base frame.
 */

/** The base video clock runs at the highest profile rate; slower profiles compose on every k-th tick. */
export const BASE_FPS = 30;
export const AUDIO_TICK_MS = 10;

/** Every how many 30 fps base frames a composite of `fps` is made (7.5 fps → every 4th). */
export function frameDivisor(fps: number): number {
  return Math.max(1, Math.round(BASE_FPS / fps));
}

/** The base frame whose interval holds media time `mediaMs`. */
export function baseFrameAt(mediaMs: number): number {
  return Math.floor((mediaMs * BASE_FPS) / 1000);
}

/**
 * Whether a capture (recording or live egress encode) of `fps` whose audio starts with the tick
 * at `mediaMs` puts every composite exactly `videoDelayMs` after the time of its base frame.
 *
 * A capture times both inputs by counts (samples / 48000, frames / fps; RecordingSegmenter), so
 * its frame slots lie on a grid that starts with its first audio sample. Started at any tick, that
 * grid sits at a random phase against the composite's: measured by simulation of the segmenter's
 * rule, the picture then lands 26.7–53.3 ms after its frame time at 30 fps and −6.7–53.3 ms at
 * 15 fps, depending on when the capture started (docs/lip-sync.md) — a lip-sync error that
 * differed from one recording to the next. Started where (mediaMs − videoDelayMs) is the time of
 * a frame of this rate that also falls on the 10 ms tick grid, both grids coincide and every
 * frame lands exactly `videoDelayMs` late. Such a tick comes every 100 ms at 30 fps, 200 ms at
 * 15 fps, 400 ms at 7.5 fps.
 */
export function isCaptureStart(mediaMs: number, fps: number, videoDelayMs: number): boolean {
  // A frame f of this rate is on the 10 ms grid when f is a multiple of 3 (f·100/3 ms) and of the
  // divisor: the aligned times repeat every lcm(3, divisor) base frames.
  const d = frameDivisor(fps);
  const periodFrames = d % 3 === 0 ? d : d * 3;
  const periodMs = (periodFrames * 1000) / BASE_FPS;
  const rel = mediaMs - videoDelayMs;
  return ((rel % periodMs) + periodMs) % periodMs === 0;
}
