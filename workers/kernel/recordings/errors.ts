/**
 * Typed errors of the recording store. Each has a stable `name` so it can be mapped (e.g.
 * RecordingNotFoundError → 404) after it crossed a process or queue boundary, where `instanceof`
 * no longer works. The ones a REST caller can cause extend the shared domain errors, so the one
 * HTTP mapping (src/common/domain-exception.filter.ts) covers them.
 */
import { BadRequestError, ConflictError, NotFoundError } from '../errors';

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
