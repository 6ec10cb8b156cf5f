import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { FAKE_SECRET, SECRET_NAMES, checkEnvironment, runsRecordingWorker } from './deploy-config';
import { Findings } from './findings';
import { parseEnvFile } from './kustomize';

/**
 * docker/compose.yaml: Redis with AOF, two server nodes sharing it, a standalone recording worker
 * and one recordings volume (issue #11, item 9). Compose itself is not run here (no engine).
 */
const ROOT = path.resolve(__dirname, '../../..');
const DOCKER = path.join(ROOT, 'docker');

const serviceSchema = z.looseObject({
  image: z.string().optional(),
  build: z.strictObject({ context: z.string(), dockerfile: z.string() }).optional(),
  command: z.array(z.string()).optional(),
  environment: z.record(z.string(), z.string()).default({}),
  env_file: z.string().optional(),
  ports: z.array(z.string()).default([]),
  volumes: z.array(z.string()).default([]),
  healthcheck: z
    .looseObject({ test: z.array(z.string()).optional(), disable: z.boolean().optional() })
    .optional(),
  stop_grace_period: z.string().optional(),
});
type Service = z.infer<typeof serviceSchema>;

const composeSchema = z.looseObject({
  name: z.string(),
  services: z.record(z.string(), serviceSchema),
  volumes: z.record(z.string(), z.null()),
});

// Compose's own `<<` merge keys hold what the two nodes share.
const compose = composeSchema.parse(
  parse(fs.readFileSync(path.join(DOCKER, 'compose.yaml'), 'utf8'), { merge: true }),
);
const services = Object.entries(compose.services);

/** `${VAR:-default}` as compose sees it with VAR unset; `${VAR:?…}` would stop `compose up`. */
function interpolate(value: string): string {
  return value.replace(
    /\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}/g,
    (_m, name: string, op?: string, arg?: string) => {
      if (op?.endsWith('?')) throw new Error(`${name} must be set in the shell (${arg ?? ''})`);
      return op?.endsWith('-') ? (arg ?? '') : '';
    },
  );
}

const environment = (s: Service) =>
  Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, interpolate(v)]));

/** The container path a named volume is mounted at (`name:/path[:mode]`). */
const mountOf = (s: Service, volume: string) =>
  s.volumes.map((v) => v.split(':')).find(([source]) => source === volume)?.[1];

function seconds(duration: string | undefined): number {
  const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration ?? '');
  if (!m || duration === '') throw new Error(`not a duration: ${String(duration)}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

const nodes = services.filter(([, s]) => s.environment.NODE_ROLES !== undefined);
const workers = services.filter(([, s]) => (s.command ?? []).includes('dist/workers/recording/main.js'));
const redis = services.filter(([, s]) => (s.image ?? '').startsWith('redis:'));

describe('docker/compose.yaml', () => {
  it('runs Redis with AOF on a named volume, two nodes and one recording worker', () => {
    expect([redis.length, nodes.length, workers.length]).toEqual([1, 2, 1]);
    const [redisName, r] = redis[0];
    const command = r.command ?? [];
    expect(command[command.indexOf('--appendonly') + 1]).toBe('yes');
    expect(compose.volumes).toHaveProperty(r.volumes[0].split(':')[0]);
    expect(mountOf(r, r.volumes[0].split(':')[0])).toBe('/data');
    expect(r.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    for (const [, s] of [...nodes, ...workers])
      expect(environment(s).REDIS_URL).toBe(`redis://${redisName}:6379`);
  });

  it('gives the nodes distinct ids, HTTP ports and UDP ranges, published with the same numbers', () => {
    const f = new Findings();
    const ranges: [number, number][] = [];
    for (const [name, s] of nodes) {
      const env = environment(s);
      f.check(name, env.NODE_ROLES.split(',').includes('media'), 'not a media node');
      f.check(name, s.ports.includes(`${env.PORT}:${env.PORT}`), `PORT ${env.PORT} not published`);
      const [min, max] = [env.RTC_MIN_PORT, env.RTC_MAX_PORT];
      f.check(name, s.ports.includes(`${min}-${max}:${min}-${max}/udp`), 'RTC UDP range not published as is');
      ranges.push([Number(min), Number(max)]);
      f.check(
        name,
        /^\$\{ANNOUNCED_IP:-[^}]+\}$/.test(s.environment.ANNOUNCED_IP ?? ''),
        'ANNOUNCED_IP from the shell',
      );
    }
    f.expectNone();
    const distinct = (key: string) => new Set(nodes.map(([, s]) => environment(s)[key])).size;
    expect([distinct('NODE_ID'), distinct('PORT')]).toEqual([nodes.length, nodes.length]);
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).toBeGreaterThan(ranges[i - 1][1]);
  });

  it("publishes each node's RTMP ingest port with the same number (its ingest URLs carry it), distinct per node", () => {
    const f = new Findings();
    for (const [name, s] of nodes) {
      const env = environment(s);
      const rtmp = env.RTMP_PORT;
      f.check(name, rtmp !== undefined && rtmp !== '0', 'RTMP_PORT set (the default 1935 would clash)');
      f.check(name, s.ports.includes(`${rtmp}:${rtmp}`), `RTMP_PORT ${rtmp} not published`);
      f.check(name, env.RTMP_PUBLIC_HOST === env.ANNOUNCED_IP, 'RTMP_PUBLIC_HOST is the announced address');
      f.check(name, Number(env.NODE_CAPACITY) > 0, 'NODE_CAPACITY');
    }
    f.expectNone();
    expect(new Set(nodes.map(([, s]) => environment(s).RTMP_PORT)).size).toBe(nodes.length);
  });

  it('every environment variable is a configuration variable and parses as the server would', () => {
    const f = new Findings();
    const secrets = Object.fromEntries(SECRET_NAMES.map((name) => [name, FAKE_SECRET]));
    for (const [name, s] of services.filter(([, s]) => !(s.image ?? '').startsWith('redis:'))) {
      const env = { ...environment(s), ...(s.env_file ? secrets : {}) };
      f.run(name, () => checkEnvironment(env, runsRecordingWorker(s.command)));
    }
    f.expectNone();
  });

  it('takes the secrets of every node from a git-ignored env file whose committed example holds no value', () => {
    const f = new Findings();
    for (const [name, s] of services)
      for (const secret of SECRET_NAMES) f.check(name, !(secret in s.environment), `${secret} inline`);
    for (const [name, s] of nodes) f.check(name, s.env_file === 'secrets.env', 'env_file secrets.env');
    f.expectNone();
    const example = parseEnvFile(path.join(DOCKER, 'secrets.env.example'));
    expect(Object.keys(example).sort()).toEqual([...SECRET_NAMES].sort());
    expect(Object.values(example).filter((v) => v !== '')).toEqual([]);
    expect(fs.readFileSync(path.join(DOCKER, '.gitignore'), 'utf8').split('\n')).toContain('secrets.env');
  });

  it('shares one recordings volume between the nodes and the worker, at their RECORDINGS_DIR', () => {
    expect(compose.volumes).toHaveProperty('recordings');
    for (const [name, s] of [...nodes, ...workers])
      expect([name, mountOf(s, 'recordings')]).toEqual([name, environment(s).RECORDINGS_DIR]);
  });

  it('checks node health on /healthz, not the worker (no HTTP server), and drains within the stop grace period', () => {
    const f = new Findings();
    for (const [name, s] of nodes) {
      const test = (s.healthcheck?.test ?? []).join(' ');
      f.check(name, test.includes('/healthz') && !s.healthcheck?.disable, 'healthcheck on /healthz');
      const drain = Number(environment(s).DRAIN_TIMEOUT_S);
      f.check(name, seconds(s.stop_grace_period) > drain, `stop_grace_period <= DRAIN_TIMEOUT_S ${drain}`);
    }
    for (const [name, s] of workers)
      f.check(name, s.healthcheck?.disable === true, 'inherits the /healthz check');
    f.expectNone();
  });

  it('builds one image, from docker/Dockerfile, that every node and the worker run', () => {
    const builds = services.filter(([, s]) => s.build);
    expect(builds).toHaveLength(1);
    const [, built] = builds[0];
    const build = built.build ?? { context: '', dockerfile: '' };
    expect(fs.existsSync(path.join(DOCKER, build.context, build.dockerfile))).toBe(true);
    for (const [name, s] of [...nodes, ...workers]) expect([name, s.image]).toEqual([name, built.image]);
  });
});
