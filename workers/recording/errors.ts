/**
 * Typed errors of the recording pipeline. Each has a stable `name` so the control plane can map
 * it (e.g. RecordingNotFoundError → 404) after it crossed a process or queue boundary, where
 * `instanceof` no longer works. The ones a REST caller can cause extend the control plane's
 * domain errors, so the one HTTP mapping (src/common/domain-exception.filter.ts) covers them.
 */
import { BadRequestError, ConflictError, NotFoundError } from '../../src/common/errors';

export class InvalidRecordingIdError extends BadRequestError {
  override readonly name = 'InvalidRecordingIdError';
  constructor(
    readonly recordingId: string,
    detail = 'must match rec_[A-Za-z0-9_-]{6,40}',
  ) {
    super(`Invalid recording id ${JSON.stringify(recordingId)}: ${detail}`);
  }
}

export class RecordingNotFoundError extends NotFoundError {
  override readonly name = 'RecordingNotFoundError';
  constructor(readonly recordingId: string) {
    super(`Recording ${recordingId} not found`);
  }
}

export class RecordingExistsError extends ConflictError {
  override readonly name = 'RecordingExistsError';
  constructor(readonly recordingId: string) {
    super(`Recording ${recordingId} already exists`);
  }
}

export class ManifestCorruptError extends Error {
  override readonly name = 'ManifestCorruptError';
  constructor(
    readonly recordingId: string,
    detail: string,
  ) {
    super(`Manifest of recording ${recordingId} is unreadable: ${detail}`);
  }
}

/** A child process (ffmpeg/ffprobe) failed; `signal` is set when it was killed. */
export class FfmpegError extends Error {
  override readonly name = 'FfmpegError';
  constructor(
    message: string,
    readonly exitCode: number | null = null,
    readonly signal: NodeJS.Signals | null = null,
    readonly stderrTail = '',
  ) {
    super(stderrTail ? `${message}: ${stderrTail}` : message);
  }
}
