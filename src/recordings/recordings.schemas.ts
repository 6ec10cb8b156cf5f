import { z } from 'zod';
import { RECORDING_ID_PATTERN } from '../../workers/protocol/recording';

export const recordingIdSchema = z.string().regex(RECORDING_ID_PATTERN, 'not a recording id');

export const startRecordingSchema = z
  .object({
    /** Also produce a VP8/Opus WebM copy when finalizing. */
    webm: z.boolean().optional(),
  })
  .strict();
export type StartRecordingBody = z.infer<typeof startRecordingSchema>;

export const transcodeSchema = z.object({ format: z.literal('webm') }).strict();
export type TranscodeBody = z.infer<typeof transcodeSchema>;

export const listRecordingsSchema = z
  .object({
    roomId: z.string().max(64).optional(),
    state: z.enum(['recording', 'finalizing', 'ready', 'failed', 'interrupted']).optional(),
    /** ISO 8601: recordings started at or after. */
    from: z.iso.datetime({ offset: true }).optional(),
    /** ISO 8601: recordings started at or before. */
    to: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();
export type ListRecordingsQuery = z.infer<typeof listRecordingsSchema>;

export const downloadQuerySchema = z.object({ format: z.enum(['mp4', 'webm']).default('mp4') }).strict();

const fileSchema = z.object({
  name: z.string(),
  kind: z.enum(['mp4', 'webm', 'thumbnail']),
  sizeBytes: z.number(),
  sha256: z.string(),
});

/** For the OpenAPI document: the manifest as the REST API returns it. */
export const recordingSchema = z.object({
  id: z.string(),
  roomId: z.string(),
  state: z.enum(['recording', 'finalizing', 'ready', 'failed', 'interrupted']),
  createdAt: z.string(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  finalizedAt: z.string().optional(),
  participantsSeen: z.array(z.object({ participantId: z.string(), displayName: z.string(), firstSeenAt: z.string() })),
  profile: z.object({ width: z.number(), height: z.number(), fps: z.number() }),
  interrupted: z.boolean(),
  failureReason: z.string().optional(),
  media: z
    .object({
      durationSec: z.number(),
      width: z.number(),
      height: z.number(),
      videoCodec: z.string(),
      audioCodec: z.string(),
      sizeBytes: z.number(),
    })
    .optional(),
  files: z.array(fileSchema),
  progress: z.number().optional(),
  webmRequested: z.boolean(),
});
