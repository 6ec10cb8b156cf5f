/**
 * Recording types shared by the control plane (recordings REST) and the workers (media worker's
 * recorder, recording worker). Types and constants only: no I/O here, so both sides can import it
 * without pulling in ffmpeg, BullMQ or the filesystem.
 */

/**
 * recording → finalizing → ready        normal stop, finalize succeeded
 * recording → finalizing → interrupted  capture died (manifest.interrupted), finalize kept what was there
 * any → failed                          nothing playable could be produced (failureReason says why)
 * 'ready', 'interrupted' and 'failed' are final; 'interrupted' recordings are playable.
 */
export const RECORDING_STATES = ['recording', 'finalizing', 'ready', 'failed', 'interrupted'] as const;
export type RecordingState = (typeof RECORDING_STATES)[number];

/**
 * The reason a capture ended (recording.ended) and a recording failed (failureReason) when its
 * disk filled up: the recording stops, its segments stay on disk, the room goes on.
 */
export const DISK_FULL = 'disk_full';

export const FINAL_RECORDING_STATES: readonly RecordingState[] = ['ready', 'failed', 'interrupted'];

/** Recording ids double as directory names, so the alphabet is restricted (no dots, no slashes). */
export const RECORDING_ID_PATTERN = /^rec_[A-Za-z0-9_-]{6,40}$/;

export interface RecordingParticipant {
  participantId: string;
  displayName: string;
  /** ISO 8601. */
  firstSeenAt: string;
}

export interface RecordingProfile {
  width: number;
  height: number;
  fps: number;
}

export const RECORDING_FILE_KINDS = ['mp4', 'webm', 'thumbnail'] as const;
export type RecordingFileKind = (typeof RECORDING_FILE_KINDS)[number];

/** The files a recording can be downloaded as (`GET /api/recordings/:id/download?format=`). */
export const DOWNLOAD_FORMATS = ['mp4', 'webm'] as const satisfies readonly RecordingFileKind[];
export type DownloadFormat = (typeof DOWNLOAD_FORMATS)[number];

export interface RecordingFile {
  /** File name inside the recording directory, e.g. "recording.mp4". */
  name: string;
  kind: RecordingFileKind;
  sizeBytes: number;
  /** Lowercase hex. */
  sha256: string;
}

/**
 * What a capture behind real time could not keep (a loaded machine): written to the manifest when
 * the capture ends, so a recording says what it lacks instead of hiding it. Audio is dropped only
 * once ffmpeg has not taken ~20 s of it (the file then skips that time, video in step); a video
 * frame is dropped when ffmpeg's input is full, and the previous picture holds its slot.
 */
export interface CaptureLosses {
  /** Seconds of the room's mix not written (and so not in the file). */
  audioDroppedSec: number;
  /** Composed frames not written because ffmpeg was behind (their slots repeat a picture). */
  videoFramesDropped: number;
}

export interface RecordingMedia {
  durationSec: number;
  width: number;
  height: number;
  videoCodec: string;
  audioCodec: string;
  sizeBytes: number;
}

/** RECORDINGS_DIR/<id>/manifest.json: the source of truth for a recording's metadata. */
export interface RecordingManifest {
  id: string;
  roomId: string;
  state: RecordingState;
  /** ISO 8601 timestamps. */
  createdAt: string;
  startedAt: string;
  endedAt?: string;
  finalizedAt?: string;
  participantsSeen: RecordingParticipant[];
  profile: RecordingProfile;
  /** Set as soon as we know capture died; finalize then ends in 'interrupted' instead of 'ready'. */
  interrupted: boolean;
  failureReason?: string;
  media?: RecordingMedia;
  files: RecordingFile[];
  /** Set when the capture ended: what it could not keep (all zero on a machine that kept up). */
  captureLosses?: CaptureLosses;
  /** Finalize progress 0–100 while state is 'finalizing'. */
  progress?: number;
  webmRequested: boolean;
}

/** Directory layout inside RECORDINGS_DIR/<id>/. */
export const RECORDING_FILES = {
  manifest: 'manifest.json',
  segmentsDir: 'segments',
  mp4: 'recording.mp4',
  webm: 'recording.webm',
  thumbnail: 'thumbnail.jpg',
} as const;

/** seg-00000.ts, seg-00001.ts, ...: the zero padding keeps lexical order equal to numeric order. */
export const SEGMENT_FILE_PATTERN = /^seg-(\d{5,})\.ts$/;

export const FINALIZE_QUEUE = 'recording-finalize';

export interface FinalizeJobData {
  recordingId: string;
  /** Also produce recording.webm (VP8/Opus). Defaults to manifest.webmRequested. */
  webm?: boolean;
}

export interface FinalizeResult {
  recordingId: string;
  state: 'ready' | 'interrupted';
  durationSec: number;
  segmentsUsed: number;
  segmentsSkipped: number;
}

/**
 * What a recording worker started by the server (RECORDING_WORKER=embedded) tells it over IPC:
 * `ready` once its signal handlers are in place, i.e. once SIGTERM means "finish the current jobs
 * and exit 0" rather than death by the signal's default action.
 */
export type RecordingWorkerMessage = { kind: 'ready' };
