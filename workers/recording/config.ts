import * as path from 'node:path';
import { z } from 'zod';
import { parseEnvironment } from '../kernel/env';
import { LOG_LEVELS, type LogLevel } from '../protocol/media';

/**
 * The recording worker's own configuration: it runs on machines with no control plane
 * (`npm run worker:recording`, docker/compose.yaml), so it reads the few variables it needs
 * itself, with the same names, defaults and limits as the server's (README, Configuration).
 */
const positiveInt = z.coerce.number().int().positive();

const schema = z.object({
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  RECORDINGS_DIR: z.string().min(1).default('recordings'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  RECORDING_CONCURRENCY: positiveInt.max(16).default(1),
  RECORDING_RETENTION_DAYS: z.coerce.number().int().min(0).default(0),
});

export interface RecordingWorkerConfig {
  readonly redisUrl: string;
  /** Absolute. */
  readonly recordingsDir: string;
  readonly logLevel: LogLevel;
  /** Finalize jobs run at once by this worker. */
  readonly concurrency: number;
  /** Finished recordings older than this are deleted; 0 keeps them for ever. */
  readonly retentionDays: number;
}

export class RecordingWorkerConfigError extends Error {
  override readonly name = 'RecordingWorkerConfigError';
}

/** Parses an environment (defaults to the process's) or throws RecordingWorkerConfigError. */
export function loadRecordingWorkerConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): RecordingWorkerConfig {
  const parsed = parseEnvironment(schema, env);
  if (!parsed.ok) throw new RecordingWorkerConfigError(parsed.message);
  const e = parsed.value;
  if (!e.REDIS_URL) {
    throw new RecordingWorkerConfigError(
      'REDIS_URL is required for a standalone recording worker; the server passes it when it starts the worker',
    );
  }
  return Object.freeze({
    redisUrl: e.REDIS_URL,
    recordingsDir: path.resolve(e.RECORDINGS_DIR),
    logLevel: e.LOG_LEVEL,
    concurrency: e.RECORDING_CONCURRENCY,
    retentionDays: e.RECORDING_RETENTION_DAYS,
  });
}
