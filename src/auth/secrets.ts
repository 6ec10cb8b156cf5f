import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AppConfig } from '../config/config';
import { Logger } from '../common/logger';

/** The three secrets the control plane needs; each comes from the environment or secrets.json. */
export interface AuthSecrets {
  readonly adminApiKey: string;
  readonly jwtSecret: string;
  readonly webhookSecret: string;
}

export const AUTH_SECRETS = Symbol('AUTH_SECRETS');

type Stored = Partial<Record<keyof AuthSecrets, string>>;

const log = new Logger('auth');

/** The file the generated secrets live in (mode 0600), so a new user can read the admin key. */
export function secretsFile(dataDir: string): string {
  return path.join(dataDir, 'secrets.json');
}

/**
 * Zero-config `npm start` must be safe, so a secret that is not configured is never a fixed
 * default: it is generated once, kept in DATA_DIR/secrets.json (readable by the owner only) and
 * reused on the next start, so tokens and the admin key survive a restart. Values configured in
 * the environment always win and are never written to the file. Values are never logged.
 */
export function loadOrCreateSecrets(config: AppConfig): AuthSecrets {
  const configured: Stored = {
    adminApiKey: config.adminApiKey,
    jwtSecret: config.jwtSecret,
    webhookSecret: config.webhooks.secret,
  };
  const missing = (Object.keys(configured) as (keyof AuthSecrets)[]).filter((k) => !configured[k]);
  if (missing.length === 0) return configured as AuthSecrets;

  const file = secretsFile(config.dataDir);
  const stored = readStored(file);
  const generated: (keyof AuthSecrets)[] = [];
  for (const k of missing) {
    if (!stored[k]) {
      stored[k] = randomBytes(32).toString('base64url');
      generated.push(k);
    }
  }
  if (generated.length > 0) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 });
    fs.chmodSync(file, 0o600); // writeFileSync's mode applies only when it creates the file
  }
  log.info('using generated secrets for the settings that are not configured', {
    file,
    settings: missing.map(envName),
    generatedNow: generated.map(envName),
  });
  return {
    adminApiKey: configured.adminApiKey ?? (stored.adminApiKey as string),
    jwtSecret: configured.jwtSecret ?? (stored.jwtSecret as string),
    webhookSecret: configured.webhookSecret ?? (stored.webhookSecret as string),
  };
}

function readStored(file: string): Stored {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const parsed = JSON.parse(raw) as unknown;
  if (!parsed || typeof parsed !== 'object')
    throw new Error(`${file} is not a JSON object; delete it to regenerate`);
  const out: Stored = {};
  for (const k of ['adminApiKey', 'jwtSecret', 'webhookSecret'] as const) {
    const v = (parsed as Record<string, unknown>)[k];
    if (typeof v === 'string' && v.length >= 32) out[k] = v;
  }
  return out;
}

function envName(k: keyof AuthSecrets): string {
  return { adminApiKey: 'ADMIN_API_KEY', jwtSecret: 'JWT_SECRET', webhookSecret: 'WEBHOOK_SECRET' }[k];
}
