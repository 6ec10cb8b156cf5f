import * as path from 'node:path';
import { z } from 'zod';

/**
 * The one place that reads the environment. Everything is parsed once at boot into a typed,
 * frozen object; a bad value stops the boot with a message that names the variable.
 */
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

const schema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(3000),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  DATA_DIR: z.string().min(1).default('data'),
  RECORDINGS_DIR: z.string().min(1).default('recordings'),
  ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  TOKEN_TTL_SECONDS: positiveInt.default(3600),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  MEDIA_DEFAULT_PROFILE: z.enum(['low', 'standard', 'high']).default('standard'),
  MEDIA_DEFAULT_LAYOUT: z.enum(['grid', 'speaker', 'pinned']).default('grid'),
  MEDIA_MAX_PARTICIPANTS: positiveInt.max(64).default(16),
  MEDIA_IDLE_TIMEOUT_MS: z.coerce.number().int().min(0).default(30000),
  MEDIA_REQUEST_TIMEOUT_MS: positiveInt.default(10000),
  MEDIA_WORKER_START_TIMEOUT_MS: positiveInt.default(15000),
  ICE_SERVERS: z.string().default('[]'),
  RECORDING_CONCURRENCY: positiveInt.max(16).default(1),
  RECORDING_PROFILE: z.enum(['low', 'standard', 'high']).default('high'),
  RECORDING_SEGMENT_SECONDS: positiveInt.max(60).default(2),
  RECORDING_RETENTION_DAYS: z.coerce.number().int().min(0).default(0),
  /** embedded: the server forks its own recording worker; external: one runs elsewhere. */
  RECORDING_WORKER: z.enum(['embedded', 'external']).default('embedded'),
  /** Prefix of every Redis key the control plane writes (rooms); lets servers share one Redis. */
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_:.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ : . -')
    .default('mcu:'),
  MAX_ROOMS: positiveInt.default(100),
  MAX_SDP_BYTES: positiveInt.max(1024 * 1024).default(64 * 1024),
  MAX_ICE_CANDIDATES: positiveInt.max(1000).default(64),
  /** Token buckets per client address: capacity = the per-minute figure, refilled evenly. */
  RATE_LIMIT_JOIN_PER_MINUTE: positiveInt.default(120),
  RATE_LIMIT_TOKENS_PER_MINUTE: positiveInt.default(300),
  WEBHOOK_URLS: z.string().default(''),
  WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  WEBHOOK_ATTEMPTS: positiveInt.max(50).default(10),
  WEBHOOK_BACKOFF_MS: positiveInt.default(1000),
  WEBHOOK_TIMEOUT_MS: positiveInt.default(5000),
  METRICS_POLL_MS: positiveInt.default(5000),
});

export type Profile = 'low' | 'standard' | 'high';
export type LayoutKind = 'grid' | 'speaker' | 'pinned';

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface AppConfig {
  readonly host: string;
  readonly port: number;
  /** Undefined means: start an embedded redis-server child with data under dataDir. */
  readonly redisUrl: string | undefined;
  readonly dataDir: string;
  readonly recordingsDir: string;
  readonly adminApiKey: string | undefined;
  readonly jwtSecret: string | undefined;
  readonly tokenTtlSeconds: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly media: {
    readonly defaultProfile: Profile;
    readonly defaultLayout: LayoutKind;
    readonly maxParticipants: number;
    readonly idleTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly workerStartTimeoutMs: number;
    readonly iceServers: readonly IceServer[];
  };
  readonly redisKeyPrefix: string;
  readonly limits: {
    readonly maxRooms: number;
    readonly maxSdpBytes: number;
    readonly maxIceCandidates: number;
    readonly joinsPerMinute: number;
    readonly tokensPerMinute: number;
  };
  readonly webhooks: {
    readonly urls: readonly string[];
    /** Undefined: a generated secret from DATA_DIR/secrets.json is used (see src/auth/secrets.ts). */
    readonly secret: string | undefined;
    readonly attempts: number;
    readonly backoffMs: number;
    readonly timeoutMs: number;
  };
  readonly metricsPollMs: number;
  readonly recording: {
    readonly concurrency: number;
    readonly profile: Profile;
    readonly segmentSeconds: number;
    readonly retentionDays: number;
    readonly worker: 'embedded' | 'external';
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const iceServerSchema = z.array(
  z.object({
    urls: z.union([z.string(), z.array(z.string())]),
    username: z.string().optional(),
    credential: z.string().optional(),
  }),
);

/** Parses an environment (defaults to the process's) into an AppConfig or throws ConfigError. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  // Empty strings count as unset: `FOO= npm start` should mean "default", not "invalid".
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') cleaned[key] = v;
  }
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  let iceServers: IceServer[];
  try {
    iceServers = iceServerSchema.parse(JSON.parse(e.ICE_SERVERS));
  } catch {
    throw new ConfigError(
      'Invalid configuration:\n  ICE_SERVERS: must be a JSON array of {urls, username?, credential?}',
    );
  }
  const config: AppConfig = {
    host: e.HOST,
    port: e.PORT,
    redisUrl: e.REDIS_URL,
    dataDir: path.resolve(e.DATA_DIR),
    recordingsDir: path.resolve(e.RECORDINGS_DIR),
    adminApiKey: e.ADMIN_API_KEY,
    jwtSecret: e.JWT_SECRET,
    tokenTtlSeconds: e.TOKEN_TTL_SECONDS,
    logLevel: e.LOG_LEVEL,
    media: {
      defaultProfile: e.MEDIA_DEFAULT_PROFILE,
      defaultLayout: e.MEDIA_DEFAULT_LAYOUT,
      maxParticipants: e.MEDIA_MAX_PARTICIPANTS,
      idleTimeoutMs: e.MEDIA_IDLE_TIMEOUT_MS,
      requestTimeoutMs: e.MEDIA_REQUEST_TIMEOUT_MS,
      workerStartTimeoutMs: e.MEDIA_WORKER_START_TIMEOUT_MS,
      iceServers,
    },
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    limits: {
      maxRooms: e.MAX_ROOMS,
      maxSdpBytes: e.MAX_SDP_BYTES,
      maxIceCandidates: e.MAX_ICE_CANDIDATES,
      joinsPerMinute: e.RATE_LIMIT_JOIN_PER_MINUTE,
      tokensPerMinute: e.RATE_LIMIT_TOKENS_PER_MINUTE,
    },
    webhooks: {
      urls: parseWebhookUrls(e.WEBHOOK_URLS),
      secret: e.WEBHOOK_SECRET,
      attempts: e.WEBHOOK_ATTEMPTS,
      backoffMs: e.WEBHOOK_BACKOFF_MS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
    },
    metricsPollMs: e.METRICS_POLL_MS,
    recording: {
      concurrency: e.RECORDING_CONCURRENCY,
      profile: e.RECORDING_PROFILE,
      segmentSeconds: e.RECORDING_SEGMENT_SECONDS,
      retentionDays: e.RECORDING_RETENTION_DAYS,
      worker: e.RECORDING_WORKER,
    },
  };
  return deepFreeze(config);
}

/**
 * The environment for a child process the server starts itself (the embedded recording
 * worker): the server's own environment with some settings pinned, e.g. the effective
 * REDIS_URL of the embedded redis-server. Kept here so that only this module reads process.env.
 */
export function childProcessEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides };
}

function parseWebhookUrls(raw: string): string[] {
  const urls = raw
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  for (const u of urls) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(u).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw new ConfigError(`Invalid configuration:\n  WEBHOOK_URLS: "${u}" is not an http(s) URL`);
  }
  return urls;
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (v && typeof v === 'object') deepFreeze(v as object);
  return Object.freeze(o);
}
