#!/usr/bin/env node
/**
 * Set-up shared by the two README commands (`npm start`, `npm test`) and the benchmark.
 * Plain Node with no dependencies, because it runs before `npm install`:
 *   1. system programs: ffmpeg/ffprobe and redis-server (and chromium for browser tests);
 *      installed with apt-get when running as root on Debian, otherwise a message naming
 *      what is missing and how to install it;
 *   2. npm packages: `npm ci` when node_modules is missing or older than package-lock.json;
 *   3. build: `tsc -p tsconfig.build.json` (incremental) into dist/.
 * Flags: --start (server needs), --test (test needs, includes chromium when e2e tests exist).
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const forTests = process.argv.includes('--test');

function say(msg) {
  process.stderr.write(`[setup] ${msg}\n`);
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    say(`command failed: ${cmd} ${args.join(' ')}`);
    process.exit(r.status || 1);
  }
}

function ensurePrograms() {
  const needed = [
    { cmd: 'ffmpeg', pkg: 'ffmpeg' },
    { cmd: 'ffprobe', pkg: 'ffmpeg' },
    { cmd: 'redis-server', pkg: 'redis-server' },
  ];
  if (forTests && fs.existsSync(path.join(root, 'test/e2e'))) {
    needed.push({ cmd: 'chromium', pkg: 'chromium', path: '/usr/bin/chromium' });
  }
  const missing = needed.filter((n) => !(n.path ? fs.existsSync(n.path) : has(n.cmd)));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && has('apt-get')) {
    say(`installing ${pkgs.join(' ')} with apt-get (missing: ${missing.map((m) => m.cmd).join(', ')})`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    run('apt-get', ['update', '-qq'], { env });
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { env });
    return;
  }
  say(`missing programs: ${missing.map((m) => m.cmd).join(', ')}`);
  say(`install them with: sudo apt-get install -y ${pkgs.join(' ')}`);
  process.exit(1);
}

function ensurePackages() {
  const lock = path.join(root, 'package-lock.json');
  const marker = path.join(root, 'node_modules/.package-lock.json');
  const stale = !fs.existsSync(marker) || fs.statSync(marker).mtimeMs < fs.statSync(lock).mtimeMs;
  if (!stale) return;
  say('installing npm packages (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

function build() {
  say('building (tsc -p tsconfig.build.json)');
  run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json']);
  run(process.execPath, [path.join(root, 'scripts/build-public.js')]);
}

ensurePrograms();
ensurePackages();
build();
