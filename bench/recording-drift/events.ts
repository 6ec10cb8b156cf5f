/**
 * What the recording-drift benchmark sends and looks for: a sync event every EVENT_EVERY_SEC of
 * media time (one white frame + a 20 ms 1 kHz beep), the thresholds that find them again in the
 * MP4, and the small helpers the capture, analysis and report modules share.
 */
import * as os from 'node:os';
import type { Profile } from '../../workers/protocol/media';

export const EVENT_EVERY_SEC = 10;
export const BEEP_TICKS = 2; // 20 ms of 10 ms audio ticks
export const BEEP_HZ = 1000;
export const BEEP_AMPLITUDE = 16000;
/** Half the beep's amplitude: a sine crosses it 1/12 period (0.08 ms) after onset. */
export const BEEP_THRESHOLD = BEEP_AMPLITUDE / 2;
export const QUIET_HZ = 200;
export const QUIET_AMPLITUDE = 200; // about −44 dBFS: "room tone", far below the threshold
export const TARGET_OFFSET_MS = 40;
export const SEGMENT_SECONDS = 2;
/** Analysis size of the picture: enough for a mean luma, small enough to stream 10 min quickly. */
export const PROBE_W = 64;
export const PROBE_H = 36;
/** Mean gray level that separates the white flash (≈ 255) from the dark moving picture (≈ 50). */
export const FLASH_LUMA = 150;

export interface Options {
  minutes: number;
  profile: Profile;
  keep: boolean;
}

export interface EventResult {
  index: number;
  /** Nominal media time of the event, s. */
  mediaSec: number;
  /** Presentation times in the MP4, s (null: not found). */
  flashSec: number | null;
  beepSec: number | null;
  /** flash − beep, ms: positive means the picture comes after the sound. */
  offsetMs: number | null;
  /**
   * Where the audio clock stood when the flash frame was pushed, relative to the event (ms): 0
   * while both clocks run in step; after an event-loop stall the two MediaClocks skip ahead by
   * different amounts (whole 10 ms ticks vs whole frame periods) and this shows it.
   */
  flashPushedAtAudioMs: number | null;
  /**
   * The slot the segmenter gave the flash frame (its videoFramesWritten at the push), as a time
   * relative to the event (ms); null if it skipped the frame. The file should show offsetMs equal
   * to this: a difference would be an error after the segmenter (ffmpeg, finalize).
   */
  flashSlotMs: number | null;
}

export interface FlashPush {
  audioSec: number;
  slot: number;
  written: boolean;
}

export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
export const mean = (xs: number[]): number | null =>
  xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
export const loadavg = (): number[] => os.loadavg().map((v) => round(v, 2));

/** mm:ss */
export function clock(seconds: number): string {
  const s = Math.floor(seconds);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** A value for a progress line or a table cell: – when missing. */
export function v(x: unknown, suffix = ''): string {
  return x === null || x === undefined ? '–' : `${String(x)}${suffix}`;
}
