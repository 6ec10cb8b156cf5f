#!/usr/bin/env node
/**
 * Set-up shared by the two README commands (`npm start`, `npm test`) and the benchmark.
 * Plain Node with no dependencies, because it runs before `npm install`:
 *   1. system programs: ffmpeg/ffprobe and redis-server (and chromium for browser tests);
 *      installed with apt-get when running as root on Debian, otherwise a message naming
 *      what is missing and how to install it;
 *   2. npm packages: `npm ci` when node_modules is missing or older than package-lock.json;
 *   3. build: `tsc -p tsconfig.build.json` (incremental) into dist/, and the optional native
 *      addons (native/yuv-scale, native/codec) with node-gyp when their sources changed.
 * Flags: --start (server needs), --test (test needs, includes chromium when e2e tests exist),
 * --audio-bench (also Janus, the reference audio MCU `npm run bench:audio` measures beside ours;
 * optional: without it that row is skipped).
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const forTests = process.argv.includes('--test');
const forAudioBench = process.argv.includes('--audio-bench');

function say(msg) {
  process.stderr.write(`[setup] ${msg}\n`);
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** The libraries native/codec links, as pkg-config modules and the Debian packages holding them. */
const CODEC_LIBS = [
  { module: 'vpx', pkg: 'libvpx-dev' },
  { module: 'x264', pkg: 'libx264-dev' },
  { module: 'opus', pkg: 'libopus-dev' },
  { module: 'libavcodec', pkg: 'libavcodec-dev' },
  { module: 'libavutil', pkg: 'libavutil-dev' },
];

function hasPkgConfig(module) {
  return has('pkg-config') && spawnSync('pkg-config', ['--exists', module], { stdio: 'ignore' }).status === 0;
}

/** gst-rtsp-server's Python binding and the GStreamer elements test/helpers/rtsp-server.py uses. */
function hasGstRtspServer() {
  const probe = [
    'import gi',
    "gi.require_version('Gst', '1.0')",
    "gi.require_version('GstRtspServer', '1.0')",
    'from gi.repository import Gst, GstRtspServer',
    'Gst.init(None)',
    "names = ['videotestsrc', 'audiotestsrc', 'x264enc', 'avenc_aac', 'rtph264pay', 'rtpmp4gpay']",
    'missing = [n for n in names if Gst.ElementFactory.find(n) is None]',
    'raise SystemExit(1 if missing else 0)',
  ].join('\n');
  // Debian's python3 (python3-gi is installed for it), not one of a version manager's earlier in PATH.
  return (
    fs.existsSync('/usr/bin/python3') &&
    spawnSync('/usr/bin/python3', ['-c', probe], { stdio: 'ignore' }).status === 0
  );
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
  // The real TURN server of the relay-only test (test/integration/cluster/turn-relay.spec.ts).
  if (forTests) needed.push({ cmd: 'turnserver', pkg: 'coturn' });
  // The NAT of the ANNOUNCED_IP test (test/integration/cluster/announced-ip-nat.spec.ts).
  if (forTests) needed.push({ cmd: 'nft', pkg: 'nftables' });
  // The real RTSP server of the RTSP ingest test (test/helpers/rtsp-server.py: GStreamer's
  // gst-rtsp-server through python3-gi, an H.264 + AAC live stream).
  if (forTests)
    needed.push({
      cmd: 'GStreamer RTSP server (python3-gi, x264enc, avenc_aac)',
      pkg: [
        'python3-gi',
        'gir1.2-gst-rtsp-server-1.0',
        'gstreamer1.0-plugins-base',
        'gstreamer1.0-plugins-good',
        'gstreamer1.0-plugins-ugly',
        'gstreamer1.0-libav',
      ],
      check: hasGstRtspServer,
    });
  // What the native addons need to build: the libyuv video scaler (native/yuv-scale) and the
  // in-process codecs (native/codec: libvpx, x264, libopus, libavcodec). Optional: without them
  // the TypeScript scaler and the wrtc media path run, so these are installed when we can but
  // never required (`without` says what happens then).
  const nativeWithout = 'the scaler uses TypeScript, media stays on the wrtc codecs';
  const optional = [
    { cmd: 'libyuv headers', pkg: 'libyuv-dev', path: '/usr/include/libyuv.h' },
    { cmd: 'g++', pkg: 'g++' },
    { cmd: 'make', pkg: 'make' },
    { cmd: 'python3', pkg: 'python3' },
    { cmd: 'pkg-config', pkg: 'pkg-config' },
    ...CODEC_LIBS.map((l) => ({
      cmd: `${l.module} (pkg-config)`,
      pkg: l.pkg,
      check: () => hasPkgConfig(l.module),
    })),
  ].map((o) => ({ ...o, without: nativeWithout }));
  // Janus, the reference audio MCU `npm run bench:audio` measures beside ours (bench/janus.ts).
  if (forAudioBench)
    optional.push({
      cmd: 'janus',
      pkg: 'janus',
      path: '/usr/bin/janus',
      without: 'the audio benchmark skips its Janus rows',
    });
  const isMissing = (n) => !(n.check ? n.check() : n.path ? fs.existsSync(n.path) : has(n.cmd));
  const missing = needed.filter(isMissing);
  const missingOptional = optional.filter(isMissing);
  if (missing.length === 0 && missingOptional.length === 0) return;
  const pkgs = [...new Set(missing.flatMap((m) => m.pkg))];
  const optionalPkgs = [...new Set(missingOptional.map((m) => m.pkg))];
  const optionalWithout = [...new Set(missingOptional.map((m) => m.without))].join('; ');
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
      say(`installing ${optionalPkgs.join(' ')} with apt-get (optional; without them ${optionalWithout})`);
      const opts = { stdio: 'inherit', cwd: root, env };
      const updated = missing.length > 0 || spawnSync('apt-get', ['update', '-qq'], opts).status === 0;
      if (!updated || spawnSync('apt-get', [...aptInstall, ...optionalPkgs], opts).status !== 0) {
        say(`warning: could not install them; ${optionalWithout}`);
      }
    }
    return;
  }
  if (optionalPkgs.length > 0) {
    say(`optional (without them ${optionalWithout}): sudo apt-get install -y ${optionalPkgs.join(' ')}`);
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

/**
 * Builds an optional N-API addon with node-gyp when it is missing or older than its sources.
 * A failure is a warning only: the TypeScript side falls back (see each addon's loader).
 */
function buildAddon({ dir, file, sources, ready, label, fallback }) {
  const addonDir = path.join(root, dir);
  const addon = path.join(addonDir, 'build/Release', file);
  const built = fs.existsSync(addon) ? fs.statSync(addon).mtimeMs : 0;
  if (!sources.some((f) => fs.existsSync(f) && fs.statSync(f).mtimeMs > built)) return;
  // node-gyp ships inside npm; Node's own headers (prefix/include/node) mean no download.
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const nodeGyp = [
    path.join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    path.join(root, 'node_modules/node-gyp/bin/node-gyp.js'),
  ].find((f) => fs.existsSync(f));
  const hasHeaders = fs.existsSync(path.join(prefix, 'include/node/node_api.h'));
  const missing = ready();
  if (missing || !nodeGyp) {
    say(`warning: ${label} not built (needs ${missing || 'node-gyp'}); ${fallback}`);
    return;
  }
  say(`building the ${label} (node-gyp)`);
  const args = [nodeGyp, 'rebuild', '--loglevel=warn', '-C', addonDir];
  if (hasHeaders) args.push(`--nodedir=${prefix}`);
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) say(`warning: ${label} failed to build; ${fallback}`);
}

function build() {
  say('building (tsc -p tsconfig.build.json)');
  run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json']);

  // workers/media/engine/video/native-scaler.ts falls back to its TypeScript kernel.
  buildAddon({
    dir: 'native/yuv-scale',
    file: 'yuv_scale.node',
    sources: ['binding.gyp', 'yuv_scale.cc'].map((f) => path.join(root, 'native/yuv-scale', f)),
    ready: () => (fs.existsSync('/usr/include/libyuv.h') ? '' : 'libyuv-dev'),
    label: 'native video scaler (libyuv)',
    fallback: 'using TypeScript',
  });
  // workers/media/engine/codec/native-codec.ts reports the codecs unavailable; media stays on wrtc.
  const codecDir = path.join(root, 'native/codec');
  const codecSources = fs.existsSync(path.join(codecDir, 'src'))
    ? fs.readdirSync(path.join(codecDir, 'src')).map((f) => path.join(codecDir, 'src', f))
    : [];
  buildAddon({
    dir: 'native/codec',
    file: 'codec.node',
    sources: [path.join(codecDir, 'binding.gyp'), ...codecSources],
    ready: () =>
      CODEC_LIBS.filter((l) => !hasPkgConfig(l.module))
        .map((l) => l.pkg)
        .join(' '),
    label: 'native codecs (libvpx, x264, libopus, libavcodec)',
    fallback: 'media stays on the wrtc codecs',
  });
  run(process.execPath, [path.join(root, 'scripts/build-public.js')]);
}

ensurePrograms();
ensurePackages();
build();
