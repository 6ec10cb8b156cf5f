import { z } from 'zod';
import { DOWNLOAD_FORMATS, RECORDING_ID_PATTERN, RECORDING_STATES } from '../../workers/protocol/recording';
import { manifestSchema } from '../../workers/kernel/recordings/manifest-store';

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
    state: z.enum(RECORDING_STATES).optional(),
    /** ISO 8601: recordings started at or after. */
    from: z.iso.datetime({ offset: true }).optional(),
    /** ISO 8601: recordings started at or before. */
    to: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();
export type ListRecordingsQuery = z.infer<typeof listRecordingsSchema>;

export const downloadQuerySchema = z.object({ format: z.enum(DOWNLOAD_FORMATS).default('mp4') }).strict();
export type DownloadQuery = z.infer<typeof downloadQuerySchema>;

/** For the OpenAPI document: the manifest as the REST API returns it (the store's own schema). */
export const recordingSchema = manifestSchema;
