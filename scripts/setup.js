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
  // What the libyuv video-scaler addon (native/yuv-scale) needs to build. Optional: without
  // it the TypeScript scaler runs, so these are installed when we can but never required.
  const optional = [
    { cmd: 'libyuv headers', pkg: 'libyuv-dev', path: '/usr/include/libyuv.h' },
    { cmd: 'g++', pkg: 'g++' },
    { cmd: 'make', pkg: 'make' },
    { cmd: 'python3', pkg: 'python3' },
  ];
  const isMissing = (n) => !(n.path ? fs.existsSync(n.path) : has(n.cmd));
  const missing = needed.filter(isMissing);
  const missingOptional = optional.filter(isMissing);
  if (missing.length === 0 && missingOptional.length === 0) return;
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  const optionalPkgs = [...new Set(missingOptional.map((m) => m.pkg))];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && has('apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const aptInstall = ['install', '-y', '-qq', '--no-install-recommends'];
    if (missing.length > 0) {
      say(`installing ${pkgs.join(' ')} with apt-get (missing: ${missing.map((m) => m.cmd).join(', ')})`);
      run('apt-get', ['update', '-qq'], { env });
      run('apt-get', [...aptInstall, ...pkgs], { env });
    }
    if (optionalPkgs.length > 0) {
      say(`installing ${optionalPkgs.join(' ')} with apt-get (optional, for the native video scaler)`);
      const opts = { stdio: 'inherit', cwd: root, env };
      const updated = missing.length > 0 || spawnSync('apt-get', ['update', '-qq'], opts).status === 0;
      if (!updated || spawnSync('apt-get', [...aptInstall, ...optionalPkgs], opts).status !== 0) {
        say('warning: could not install them; the video scaler will use its TypeScript kernel');
      }
    }
    return;
  }
  if (optionalPkgs.length > 0) {
    say(`optional, for the native video scaler: sudo apt-get install -y ${optionalPkgs.join(' ')}`);
  }
  if (missing.length === 0) return;
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

  // The libyuv scaler addon, rebuilt when missing or older than its sources. A failure is a
  // warning only: workers/media/engine/video/native-scaler.ts then falls back to TypeScript.
  const addonDir = path.join(root, 'native/yuv-scale');
  const addon = path.join(addonDir, 'build/Release/yuv_scale.node');
  const sources = ['binding.gyp', 'yuv_scale.cc'].map((f) => path.join(addonDir, f));
  const built = fs.existsSync(addon) ? fs.statSync(addon).mtimeMs : 0;
  if (sources.some((f) => fs.existsSync(f) && fs.statSync(f).mtimeMs > built)) {
    // node-gyp ships inside npm; Node's own headers (prefix/include/node) mean no download.
    const prefix = path.resolve(path.dirname(process.execPath), '..');
    const nodeGyp = [
      path.join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
      path.join(root, 'node_modules/node-gyp/bin/node-gyp.js'),
    ].find((f) => fs.existsSync(f));
    const hasHeaders = fs.existsSync(path.join(prefix, 'include/node/node_api.h'));
    if (!fs.existsSync('/usr/include/libyuv.h') || !nodeGyp) {
      say('warning: native video scaler not built (needs libyuv-dev and node-gyp); using TypeScript');
    } else {
      say('building the native video scaler (node-gyp, libyuv)');
      const args = [nodeGyp, 'rebuild', '--loglevel=warn', '-C', addonDir];
      if (hasHeaders) args.push(`--nodedir=${prefix}`);
      const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
      if (r.status !== 0) say('warning: native video scaler failed to build; using TypeScript');
    }
  }
  run(process.execPath, [path.join(root, 'scripts/build-public.js')]);
}

ensurePrograms();
ensurePackages();
build();
