import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import {
  DEFAULT_DOWNLINK_VIDEO_HOLD_MS,
  DEFAULT_PEER_VIDEO_HOLD_MS,
  LAYOUTS,
  LOG_LEVELS,
  PROFILES,
  type LayoutKind,
  type LogLevel,
  type Profile,
} from '../../workers/protocol/media';

/**
 * The one place that reads the environment. Everything is parsed once at boot into a typed,
 * frozen object; a bad value stops the boot with a message that names the variable.
 */
export const NODE_ROLES = ['control', 'media', 'recording'] as const;
export type NodeRole = (typeof NODE_ROLES)[number];
const isNodeRole = (r: string): r is NodeRole => (NODE_ROLES as readonly string[]).includes(r);

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
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  MEDIA_DEFAULT_PROFILE: z.enum(PROFILES).default('standard'),
  MEDIA_DEFAULT_LAYOUT: z.enum(LAYOUTS).default('grid'),
  MEDIA_MAX_PARTICIPANTS: positiveInt.max(64).default(16),
  MEDIA_IDLE_TIMEOUT_MS: z.coerce.number().int().min(0).default(30000),
  MEDIA_REQUEST_TIMEOUT_MS: positiveInt.default(10000),
  MEDIA_WORKER_START_TIMEOUT_MS: positiveInt.default(15000),
  ICE_SERVERS: z.string().default('[]'),
  /**
   * Where audio-only participants' peer connections live: 'rtp' (our RTP stack with our Opus
   * encodes, silent listeners sharing one) or 'wrtc' (a libwebrtc peer connection each).
   */
  AUDIO_ONLY_STACK: z.enum(['rtp', 'wrtc']).default('rtp'),
  /**
   * Downlink video of VP8-capable participants: 'shared' (the default: encoded once per profile
   * in VP8 and sent to all of them over the RTP-level stack; issue #17, docs/encode-once.md) or
   * 'per-peer' (libwebrtc encodes the composite in each peer connection, adapting its rate to
   * each link; a node carries about half as many). VP9/AV1-only offers are served per peer
   * either way.
   */
  VIDEO_ENCODE: z.enum(['per-peer', 'shared']).default('shared'),
  /** Lip sync: hold each participant's video back by its audio path's extra delay (docs/lip-sync.md). */
  AV_SYNC: z.enum(['on', 'off']).default('on'),
  /**
   * Shared-encode (RTP-level) downlink video leaves no earlier than this many ms after the tick
   * it was composed at: the sound of that instant leaves up to a 20 ms Opus frame later, and a
   * receiver does not re-align gaps under 30 ms itself (docs/lip-sync.md, "The downlink").
   */
  DOWNLINK_VIDEO_HOLD_MS: z.coerce.number().int().min(0).max(200).default(DEFAULT_DOWNLINK_VIDEO_HOLD_MS),
  /** The same for the per-peer path (VIDEO_ENCODE=per-peer: libwebrtc encodes the composite per peer). */
  PEER_VIDEO_HOLD_MS: z.coerce.number().int().min(0).max(200).default(DEFAULT_PEER_VIDEO_HOLD_MS),
  RECORDING_CONCURRENCY: positiveInt.max(16).default(1),
  RECORDING_PROFILE: z.enum(PROFILES).default('high'),
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
  /** New recordings are refused (507) while the recordings disk has less free space than this. */
  RECORDING_MIN_FREE_MB: z.coerce.number().int().min(0).default(256),
  /** SIGTERM/SIGINT: the process exits within this, Redis reachable or not (1 when not clean). */
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10000),
  /** This node's name in the cluster registry; default: host name + ':' + PORT. */
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'must be 1-100 characters of A-Z a-z 0-9 _ . : -')
    .optional(),
  /** Comma-separated subset of control,media,recording; default all three. */
  NODE_ROLES: z.string().default(NODE_ROLES.join(',')),
  /**
   * What this node carries, in standard participant units (one publisher on `standard`); the
   * default is the benchmark's capacity on a 2-core machine with the load generator beside it.
   */
  NODE_CAPACITY: z.coerce.number().positive().max(100000).default(7),
  /** Joins are refused beyond this fraction of NODE_CAPACITY (and of the machine's CPU). */
  ADMISSION_LIMIT: z.coerce.number().positive().max(1).default(0.85),
  /** JSON overriding the cost table, e.g. {"publisher":{"high":3},"audioOnly":0.2}. */
  ADMISSION_COSTS: z.string().default('{}'),
  /** Joins are refused while a room's worker event loop has lagged this much (p99, sustained). */
  ADMISSION_MAX_LOOP_DELAY_MS: positiveInt.default(200),
  /** Quality shedding steps back up after the worker has kept up this long. */
  QUALITY_RECOVER_MS: positiveInt.default(10000),
  /** off: participants' downlinks do not follow their links (docs/adaptive-downlink.md). */
  DOWNLINK_ADAPTATION: z.enum(['on', 'off']).default('on'),
  /** Adaptive downlink steps a participant back up after its link has shown headroom this long. */
  DOWNLINK_RECOVER_MS: positiveInt.default(15000),
  /** off: media workers never shed quality (measurements of the engine past its capacity). */
  QUALITY_SHEDDING: z.enum(['on', 'off']).default('on'),
  /**
   * SIGTERM drains first (no new rooms, live ones go on) for at most this long; 0: SIGTERM stops
   * at once, as a single server always did. POST /api/nodes/:id/drain with 0 waits until empty.
   */
  DRAIN_TIMEOUT_S: z.coerce.number().int().min(0).max(86400).default(0),
  /** The address written into this node's host ICE candidates instead of its own (NAT). */
  ANNOUNCED_IP: z.union([z.ipv4(), z.ipv6()]).optional(),
  /** UDP (and passive TCP) ports of this node's peer connections; both or neither. */
  RTC_MIN_PORT: z.coerce.number().int().min(1024).max(65535).optional(),
  RTC_MAX_PORT: z.coerce.number().int().min(1024).max(65535).optional(),
  /** Comma-separated turn:/turns: URIs handed to clients with time-limited credentials. */
  TURN_URLS: z
    .string()
    .regex(/^turns?:[^,\s]+(,\s*turns?:[^,\s]+)*$/, 'must be a comma-separated list of turn: / turns: URIs')
    .optional(),
  /** coturn's static-auth-secret (use-auth-secret): signs the credentials. */
  TURN_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  TURN_TTL_S: positiveInt.max(7 * 86400).default(3600),
  /** Live egress (docs/egress.md). HLS output folder; default DATA_DIR/hls. */
  EGRESS_HLS_DIR: z.string().min(1).optional(),
  /** An HLS playlist stays served this long after its egress stopped, then 404. */
  EGRESS_HLS_RETENTION_S: z.coerce.number().int().min(0).default(60),
  /** How long an RTMP egress whose far end dropped keeps reconnecting before it fails. */
  EGRESS_RTMP_RECONNECT_S: positiveInt.max(86400).default(60),
  MAX_EGRESS_PER_ROOM: positiveInt.max(32).default(4),
  /** RTMP ingest (docs/ingress.md): the port publishers push to; 0 = RTMP ingest off. */
  RTMP_PORT: port.default(1935),
  /**
   * Host name put in ingress URLs (rtmp://RTMP_PUBLIC_HOST:RTMP_PORT/live/<key>); default
   * ANNOUNCED_IP, else HOST. In a cluster each node names itself: the node hosting the room.
   */
  RTMP_PUBLIC_HOST: z.string().min(1).optional(),
  MAX_INGRESS_PER_ROOM: positiveInt.max(32).default(4),
  /** Files an ingress may play (`{ type: 'url', url: 'clip.mp4' }`); unset = file ingest off. */
  INGRESS_FILES_DIR: z.string().min(1).optional(),
});

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
  readonly logLevel: LogLevel;
  readonly media: {
    readonly defaultProfile: Profile;
    readonly defaultLayout: LayoutKind;
    readonly maxParticipants: number;
    readonly idleTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly workerStartTimeoutMs: number;
    readonly iceServers: readonly IceServer[];
    readonly audioOnlyStack: 'rtp' | 'wrtc';
    readonly videoEncode: 'per-peer' | 'shared';
    readonly avSync: 'on' | 'off';
    readonly downlinkVideoHoldMs: number;
    readonly peerVideoHoldMs: number;
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
  readonly shutdownTimeoutMs: number;
  readonly node: {
    readonly id: string;
    readonly roles: ReadonlySet<NodeRole>;
    /**
     * True when REDIS_URL is set: other nodes may share that Redis, so everything that must be
     * the same on every node (secrets above all) has to come from the environment.
     */
    readonly clustered: boolean;
    /** 0: SIGTERM stops at once; otherwise it drains for at most this many seconds first. */
    readonly drainTimeoutS: number;
  };
  /** How this node's media reaches clients (per node: each machine has its own address). */
  readonly network: {
    readonly announcedIp: string | null;
    readonly rtcPortRange: { readonly min: number; readonly max: number } | null;
    /** Null without TURN_URLS. */
    readonly turn: {
      readonly urls: readonly string[];
      readonly secret: string;
      readonly ttlSeconds: number;
    } | null;
  };
  readonly load: {
    /** Standard participant units this node carries (NODE_CAPACITY). */
    readonly capacity: number;
    /** Fraction of capacity (and of the machine's CPU) beyond which joins are refused. */
    readonly admissionLimit: number;
    readonly costs: ParticipantCosts;
    readonly maxLoopDelayMs: number;
    readonly qualityRecoverMs: number;
    readonly qualityShedding: boolean;
    /** Adaptive downlink (RoomMediaSettings.downlink). */
    readonly downlink: { readonly adaptation: boolean; readonly recoverMs: number };
  };
  readonly recording: {
    readonly concurrency: number;
    readonly profile: Profile;
    readonly segmentSeconds: number;
    readonly retentionDays: number;
    readonly worker: 'embedded' | 'external';
    readonly minFreeBytes: number;
  };
  readonly egress: {
    readonly hlsDir: string;
    readonly hlsRetentionSeconds: number;
    readonly rtmpReconnectSeconds: number;
    readonly maxPerRoom: number;
  };
  readonly ingress: {
    readonly rtmpPort: number;
    readonly rtmpPublicHost: string;
    readonly maxPerRoom: number;
    readonly filesDir: string | undefined;
  };
}

export interface ParticipantCosts {
  readonly publisher: Readonly<Record<Profile, number>>;
  readonly viewer: Readonly<Record<Profile, number>>;
  /** A participant with no video either way (no decode, no encode): Opus only. */
  readonly audioOnly: number;
  /**
   * One room's encode of a profile's composite, charged once per room for each profile its
   * video receivers use. 0 per peer: there every receiver's own encoder is in its cost above.
   */
  readonly encode: Readonly<Record<Profile, number>>;
}

/**
 * Cost of one participant in standard units (publisher on `standard` = 1). Measured by the
 * benchmark on this machine (bench/results/latest.md): 8 publishers on `standard` use 81 % of a
 * core, 8 on `low` 66 % (→ 0.8). The others are estimates from the work they imply (see
 * docs/overload.md): `high` encodes 4× the pixels at 2× the rate for each receiver; a viewer
 * sends nothing to decode; an audio-only participant has no video at all.
 */
export const DEFAULT_PARTICIPANT_COSTS: ParticipantCosts = {
  publisher: { low: 0.8, standard: 1, high: 3 },
  viewer: { low: 0.6, standard: 0.8, high: 2.8 },
  audioOnly: 0.2,
  encode: { low: 0, standard: 0, high: 0 },
};

/**
 * The same units with VIDEO_ENCODE=shared: a participant costs its uplink's decode, its
 * packetizing and its own audio mix; each profile's composite is composed and encoded once per
 * room (`encode`), charged once per room. Fitted on this machine as NODE_CAPACITY was: 7 units
 * where the engine alone stops meeting the overload targets (docs/overload.md, "Costs with the
 * shared encode"; bench/results/shared-costs.md, overload-shared-fit.md and -final.md): one room
 * of `standard` publishers keeps them up to 13–14 (0.8 + 13.5 × 0.45 ≈ 6.9), three rooms up to
 * 11–13; at the same 11 participants each extra room took ≈ 8 % of a core (0.8). `low` measured
 * the same as `standard`; `high` adds ≈ 14.5 % for its 1280x720 composite at 30 fps. A `high`
 * publisher's bigger uplink and a viewer (no uplink, as audio-only) are estimates.
 */
export const SHARED_PARTICIPANT_COSTS: ParticipantCosts = {
  publisher: { low: 0.45, standard: 0.45, high: 0.55 },
  viewer: { low: 0.2, standard: 0.2, high: 0.2 },
  audioOnly: 0.2,
  encode: { low: 0.8, standard: 0.8, high: 2.3 },
};

const cost = z.number().nonnegative().max(1000);
const costsSchema = z
  .object({
    publisher: z.object({ low: cost, standard: cost, high: cost }).partial().strict(),
    viewer: z.object({ low: cost, standard: cost, high: cost }).partial().strict(),
    audioOnly: cost,
    encode: z.object({ low: cost, standard: cost, high: cost }).partial().strict(),
  })
  .partial()
  .strict();

function parseCosts(raw: string, d: ParticipantCosts): ParticipantCosts {
  let parsed: z.infer<typeof costsSchema>;
  try {
    parsed = costsSchema.parse(JSON.parse(raw));
  } catch {
    throw new ConfigError(
      'Invalid configuration:\n  ADMISSION_COSTS: must be JSON like {"publisher":{"high":3},"viewer":{"standard":0.8},"audioOnly":0.2,"encode":{"standard":1.3}}',
    );
  }
  return {
    publisher: { ...d.publisher, ...parsed.publisher },
    viewer: { ...d.viewer, ...parsed.viewer },
    audioOnly: parsed.audioOnly ?? d.audioOnly,
    encode: { ...d.encode, ...parsed.encode },
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
  const clustered = e.REDIS_URL !== undefined;
  // A generated secret is per machine (DATA_DIR/secrets.json): two nodes would each accept only
  // their own admin key and join tokens, and sign webhooks differently.
  const missingSecrets = (['ADMIN_API_KEY', 'JWT_SECRET', 'WEBHOOK_SECRET'] as const).filter((k) => !e[k]);
  if (clustered && missingSecrets.length > 0)
    throw new ConfigError(
      `Invalid configuration:\n  ${missingSecrets.join(', ')}: required when REDIS_URL is set ` +
        '(every node of a cluster must use the same secrets; a generated one would differ per node)',
    );
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
      audioOnlyStack: e.AUDIO_ONLY_STACK,
      videoEncode: e.VIDEO_ENCODE,
      avSync: e.AV_SYNC,
      downlinkVideoHoldMs: e.DOWNLINK_VIDEO_HOLD_MS,
      peerVideoHoldMs: e.PEER_VIDEO_HOLD_MS,
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
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    node: {
      id: e.NODE_ID ?? `${os.hostname()}:${e.PORT}`,
      roles: parseNodeRoles(e.NODE_ROLES),
      clustered,
      drainTimeoutS: e.DRAIN_TIMEOUT_S,
    },
    load: {
      capacity: e.NODE_CAPACITY,
      admissionLimit: e.ADMISSION_LIMIT,
      costs: parseCosts(
        e.ADMISSION_COSTS,
        e.VIDEO_ENCODE === 'shared' ? SHARED_PARTICIPANT_COSTS : DEFAULT_PARTICIPANT_COSTS,
      ),
      maxLoopDelayMs: e.ADMISSION_MAX_LOOP_DELAY_MS,
      qualityRecoverMs: e.QUALITY_RECOVER_MS,
      qualityShedding: e.QUALITY_SHEDDING === 'on',
      downlink: { adaptation: e.DOWNLINK_ADAPTATION === 'on', recoverMs: e.DOWNLINK_RECOVER_MS },
    },
    network: parseNetwork(e),
    recording: {
      concurrency: e.RECORDING_CONCURRENCY,
      profile: e.RECORDING_PROFILE,
      segmentSeconds: e.RECORDING_SEGMENT_SECONDS,
      retentionDays: e.RECORDING_RETENTION_DAYS,
      worker: e.RECORDING_WORKER,
      minFreeBytes: e.RECORDING_MIN_FREE_MB * 1024 * 1024,
    },
    egress: {
      hlsDir: path.resolve(e.EGRESS_HLS_DIR ?? path.join(e.DATA_DIR, 'hls')),
      hlsRetentionSeconds: e.EGRESS_HLS_RETENTION_S,
      rtmpReconnectSeconds: e.EGRESS_RTMP_RECONNECT_S,
      maxPerRoom: e.MAX_EGRESS_PER_ROOM,
    },
    ingress: {
      rtmpPort: e.RTMP_PORT,
      // A node behind NAT (ANNOUNCED_IP) is reached at that address for RTMP too.
      rtmpPublicHost: e.RTMP_PUBLIC_HOST ?? e.ANNOUNCED_IP ?? e.HOST,
      maxPerRoom: e.MAX_INGRESS_PER_ROOM,
      filesDir: e.INGRESS_FILES_DIR === undefined ? undefined : path.resolve(e.INGRESS_FILES_DIR),
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

/** The same, with settings the server's own environment may override (its values win). */
export function childProcessEnvDefaults(defaults: Record<string, string>): NodeJS.ProcessEnv {
  return { ...defaults, ...process.env };
}

function parseNetwork(e: z.infer<typeof schema>): AppConfig['network'] {
  const { RTC_MIN_PORT: min, RTC_MAX_PORT: max } = e;
  if ((min === undefined) !== (max === undefined))
    throw new ConfigError('Invalid configuration:\n  RTC_MIN_PORT, RTC_MAX_PORT: set both or neither');
  if (min !== undefined && max !== undefined && min > max)
    throw new ConfigError('Invalid configuration:\n  RTC_MIN_PORT: must not be above RTC_MAX_PORT');
  if (e.TURN_URLS && !e.TURN_SECRET)
    throw new ConfigError('Invalid configuration:\n  TURN_SECRET: required with TURN_URLS');
  return {
    announcedIp: e.ANNOUNCED_IP ?? null,
    rtcPortRange: min !== undefined && max !== undefined ? { min, max } : null,
    turn:
      e.TURN_URLS && e.TURN_SECRET
        ? {
            urls: e.TURN_URLS.split(',').map((u) => u.trim()),
            secret: e.TURN_SECRET,
            ttlSeconds: e.TURN_TTL_S,
          }
        : null,
  };
}

function parseNodeRoles(raw: string): Set<NodeRole> {
  const roles = new Set<NodeRole>();
  for (const r of raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    if (!isNodeRole(r))
      throw new ConfigError(
        `Invalid configuration:\n  NODE_ROLES: "${r}" is not one of ${NODE_ROLES.join(', ')}`,
      );
    roles.add(r);
  }
  if (roles.size === 0)
    throw new ConfigError(
      `Invalid configuration:\n  NODE_ROLES: name at least one of ${NODE_ROLES.join(', ')}`,
    );
  return roles;
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
