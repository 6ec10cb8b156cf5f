import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { loadConfig } from '../../../src/config/config';
import { loadRecordingWorkerConfig } from '../../../workers/recording/config';

/**
 * What the deployment files may set: the variables src/config/config.ts reads today, plus those
 * the scale-out (issue #11) adds. The added ones are checked here against their documented
 * meaning until src/config parses them; then loadConfig alone will do.
 */

const ROOT = path.resolve(__dirname, '../../..');

/** The keys of the zod schema in src/config/config.ts, read from its source. */
function currentConfigNames(): string[] {
  const source = fs.readFileSync(path.join(ROOT, 'src/config/config.ts'), 'utf8');
  const start = source.indexOf('const schema = z.object({');
  const end = source.indexOf('\n});', start);
  if (start < 0 || end < 0) throw new Error('src/config/config.ts: schema not found');
  const names = [...source.slice(start, end).matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]);
  if (names.length < 10) throw new Error('src/config/config.ts: schema keys not recognised');
  return names;
}

const ROLE = '(control|media|recording)';
const port = z.coerce.number().int().min(1024).max(65535);

/** Variables of the scale-out, as the issue and the cluster brief define them. */
export const clusterSettingsSchema = z.object({
  NODE_ID: z.string().min(1).optional(),
  NODE_ROLES: z
    .string()
    .regex(new RegExp(`^${ROLE}(,${ROLE})*$`), 'a comma list of control, media, recording')
    .optional(),
  ANNOUNCED_IP: z.union([z.ipv4(), z.ipv6()]).optional(),
  RTC_MIN_PORT: port.optional(),
  RTC_MAX_PORT: port.optional(),
  TURN_URLS: z
    .string()
    .regex(/^turns?:[^,\s]+(,turns?:[^,\s]+)*$/, 'a comma list of turn: / turns: URIs')
    .optional(),
  TURN_SECRET: z.string().min(1).optional(),
  DRAIN_TIMEOUT_S: z.coerce.number().int().positive().optional(),
  NODE_CAPACITY: z.coerce.number().positive().optional(),
});

export const CONFIG_NAMES: ReadonlySet<string> = new Set([
  ...currentConfigNames(),
  ...Object.keys(clusterSettingsSchema.shape),
]);

/** Must come from a Secret (Kubernetes) or the secrets env file (compose), never inline. */
export const SECRET_NAMES = ['ADMIN_API_KEY', 'JWT_SECRET', 'WEBHOOK_SECRET', 'TURN_SECRET'] as const;
/** Must be the same on every server node of a cluster. */
export const CLUSTER_SECRETS = ['ADMIN_API_KEY', 'JWT_SECRET', 'WEBHOOK_SECRET'] as const;

/** Valid stand-ins for secrets when parsing an environment (lengths meet src/config's minimums). */
export const FAKE_SECRET = 'f'.repeat(40);

/** True for a container or service that runs the standalone recording worker, not the server. */
export function runsRecordingWorker(command: unknown): boolean {
  return Array.isArray(command) && command.some((a) => String(a).includes('workers/recording/'));
}

/**
 * Throws with the variable's name unless the environment parses: under src/config as the
 * server does at boot (or workers/recording/config for a standalone recording worker, which
 * needs none of the cluster's secrets), and under the scale-out's rules. Empty values mean
 * unset, as in src/config.
 */
export function checkEnvironment(env: Record<string, string>, recordingWorker = false): void {
  for (const name of Object.keys(env))
    if (!CONFIG_NAMES.has(name)) throw new Error(`${name} is not a configuration variable`);
  if (recordingWorker) loadRecordingWorkerConfig(env);
  else loadConfig(env);
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = clusterSettingsSchema.safeParse(set);
  if (!parsed.success)
    throw new Error(parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('; '));
  const { RTC_MIN_PORT: min, RTC_MAX_PORT: max } = parsed.data;
  if ((min === undefined) !== (max === undefined))
    throw new Error('RTC_MIN_PORT and RTC_MAX_PORT go together');
  if (min !== undefined && max !== undefined && min >= max)
    throw new Error('RTC_MIN_PORT must be below RTC_MAX_PORT');
}

/** Measured capacity model (README, docs/benchmark.md): see docs/deploy.md for the arithmetic. */
export const CAPACITY = {
  /** Server CPU per `standard` participant, in millicores (≈ 10 % of a core). */
  milliCoresPerParticipant: 100,
  /** Share of a media node's CPU the placement budget may fill; the rest absorbs bursts. */
  targetUtilisation: 0.8,
  /** RSS of one media worker process (one per room). */
  bytesPerRoom: 120e6,
  /** RSS of the node process itself (control plane). */
  controlPlaneBytes: 150e6,
};

/** CPU quantity in millicores ("3", "500m", 0.5). */
export function milliCores(q: unknown): number {
  const s = String(q);
  const m = /^([0-9.]+)(m?)$/.exec(s);
  if (!m) throw new Error(`not a CPU quantity: ${s}`);
  return m[2] === 'm' ? Number(m[1]) : Math.round(Number(m[1]) * 1000);
}

const BYTE_SUFFIX: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** Memory/storage quantity in bytes ("4Gi", "512Mi", "1G"). */
export function bytes(q: unknown): number {
  const s = String(q);
  const m = /^([0-9.]+)([kMGT]i?|Ki)?$/.exec(s);
  if (!m || BYTE_SUFFIX[m[2] ?? ''] === undefined) throw new Error(`not a memory quantity: ${s}`);
  return Number(m[1]) * BYTE_SUFFIX[m[2] ?? ''];
}
