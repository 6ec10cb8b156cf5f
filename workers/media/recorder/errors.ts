/** Typed errors of the recorder (capture side); stable names survive the IPC boundary. */

/** pushVideo/pushAudio/start/stop called in a state that does not allow it. */
export class SegmenterStateError extends Error {
  override readonly name = 'SegmenterStateError';
}

/** The caller must compose at the recording profile; a wrong-sized frame is a programming error. */
export class FrameSizeError extends Error {
  override readonly name = 'FrameSizeError';
}
