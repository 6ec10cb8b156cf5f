import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../../src/config/config';
import { setLogSink } from '../../../workers/kernel/logger';
import { loadOrCreateSecrets, secretsFile } from '../../../src/auth/secrets';

describe('secrets for a zero-config start', () => {
  let dir: string;
  const lines: string[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-secrets-'));
    lines.length = 0;
    setLogSink((l) => lines.push(l));
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('generates the missing secrets into DATA_DIR/secrets.json readable by the owner only', () => {
    const s = loadOrCreateSecrets(loadConfig({ DATA_DIR: dir }));
    const file = secretsFile(dir);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(s);
    expect(s.adminApiKey.length).toBeGreaterThanOrEqual(32);
    expect(new Set([s.adminApiKey, s.jwtSecret, s.webhookSecret]).size).toBe(3);
  });

  it('reuses the stored secrets on the next start', () => {
    const first = loadOrCreateSecrets(loadConfig({ DATA_DIR: dir }));
    expect(loadOrCreateSecrets(loadConfig({ DATA_DIR: dir }))).toEqual(first);
  });

  it('configured values win and are never written to the file', () => {
    const key = 'configured-admin-key-0123456789';
    const s = loadOrCreateSecrets(loadConfig({ DATA_DIR: dir, ADMIN_API_KEY: key }));
    expect(s.adminApiKey).toBe(key);
    expect(fs.readFileSync(secretsFile(dir), 'utf8')).not.toContain(key);
  });

  it('logs where the secrets are but never their values', () => {
    const s = loadOrCreateSecrets(loadConfig({ DATA_DIR: dir }));
    const log = lines.join('\n');
    expect(log).toContain(secretsFile(dir));
    for (const v of Object.values(s)) expect(log).not.toContain(v);
  });

  it('writes nothing when every secret is configured', () => {
    loadOrCreateSecrets(
      loadConfig({
        DATA_DIR: dir,
        ADMIN_API_KEY: 'a'.repeat(32),
        JWT_SECRET: 'b'.repeat(32),
        WEBHOOK_SECRET: 'c'.repeat(32),
      }),
    );
    expect(fs.existsSync(secretsFile(dir))).toBe(false);
  });
});
