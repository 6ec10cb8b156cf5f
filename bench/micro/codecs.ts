/**
 * Micro-benchmark of the in-process codecs (native/codec, docs/codecs.md).
 * Run: npx tsc -p tsconfig.build.json && node [--expose-gc] dist/bench/micro/codecs.js [--frames=N]
 *        [--paced=S] [--rounds=K] [--no-wrtc] [--soak=N]
 *
 * 1. Video encode per output profile (workers/protocol OUTPUT_PROFILES), frames back to back:
 *    encode ms on the codec thread, process CPU ms per frame (both threads, copies included),
 *    % of one core at the profile's frame rate, and the bitrate reached.
 * 2. Video decode of a stream our encoder made (640x360 @ 550 kbps, 1280x720 @ 1700 kbps).
 * 3. Opus encode/decode µs per 10 and 20 ms frame at complexity 0, 5, 10.
 * 4. Side by side, paced in real time at 640x360 @ 15 fps, 550 kbit/s, --paced seconds,
 *    --rounds times interleaved: one @roamhq/wrtc peer-connection pair (libwebrtc VP8 encode +
 *    decode, today's per-participant cost) against our VP8 and H.264 encode + decode.
 * 5. With --soak=N: RSS and ArrayBuffer memory over N frames of encode + decode per codec.
 * Other processes share this 2-core machine: figures are noisy; CPU time is steadier than wall time.
 */
import { setLogSink } from '../../workers/kernel/logger';
import { codecsAvailable } from '../../workers/media/engine/codec/native-codec';
import { OPUS_MAX_PACKET_BYTES, OpusDecoder, OpusEncoder } from '../../workers/media/engine/codec/opus';
import { VideoDecoder } from '../../workers/media/engine/codec/video-decoder';
import {
  VideoEncoder,
  type VideoCodecName,
  type X264Preset,
} from '../../workers/media/engine/codec/video-encoder';
import type { I420Frame } from '../../workers/media/engine/video/i420';
import { OUTPUT_PROFILES } from '../../workers/protocol/media';
import { PACED_KBPS, type PacedResult, ownPair, wrtcPair } from './codec-paced';
import { cameraFrames, voiceLike } from './codec-sources';

interface Args {
  frames: number;
  pacedSeconds: number;
  /** Rounds of the paced comparison (wrtc, VP8, H.264 interleaved). */
  rounds: number;
  wrtc: boolean;
  /** Frames of the memory soak per codec (0: skip). */
  soak: number;
}

function parseArgs(argv: string[]): Args {
  const num = (key: string, dflt: number): number => {
    const a = argv.find((x) => x.startsWith(`--${key}=`));
    return a === undefined ? dflt : Number(a.slice(key.length + 3));
  };
  return {
    frames: num('frames', 300),
    pacedSeconds: num('paced', 10),
    rounds: num('rounds', 3),
    wrtc: !argv.includes('--no-wrtc'),
    soak: num('soak', 0),
  };
}

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};
const fmt = (v: number, digits = 2): string => v.toFixed(digits);
const pct = (values: number[], p: number): number => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

interface EncodeRow {
  label: string;
  profile: string;
  encodeMs: number;
  encodeP95Ms: number;
  cpuMsPerFrame: number;
  coreAtFps: number;
  /** Time inside encode() on the JS thread (the input copy). */
  jsMs: number;
  kbps: number;
  target: number;
}

interface VideoCase {
  codec: VideoCodecName;
  width: number;
  height: number;
  fps: number;
  kbps: number;
  preset?: X264Preset;
  vp8Speed?: number;
  label: string;
}

/** Encodes frames back to back, one in flight; keeps copies of the packets when asked. */
async function encodeRun(
  c: VideoCase,
  frames: I420Frame[],
  count: number,
  keep?: Buffer[],
): Promise<EncodeRow> {
  let bytes = 0;
  const times: number[] = [];
  const enc = VideoEncoder.create(
    {
      codec: c.codec,
      width: c.width,
      height: c.height,
      fps: c.fps,
      bitrateKbps: c.kbps,
      x264Preset: c.preset,
      vp8Speed: c.vp8Speed,
    },
    (f) => {
      bytes += f.data.length;
      times.push(f.encodeMs);
      keep?.push(Buffer.from(f.data));
    },
  );
  if (enc === null) throw new Error('codec addon unavailable');
  const warm = keep ? 0 : 15;
  for (let i = 0; i < warm; i++) {
    enc.encode(frames[i % frames.length].data, i);
    await enc.idle();
  }
  bytes = 0;
  times.length = 0;
  let js = 0n;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    enc.encode(frames[(warm + i) % frames.length].data, warm + i);
    js += process.hrtime.bigint() - t0;
    await enc.idle();
  }
  const cpu = cpuMs(cpu0) / count;
  enc.close();
  return {
    label: c.label,
    profile: `${c.width}x${c.height}@${c.fps}`,
    encodeMs: times.reduce((a, b) => a + b, 0) / times.length,
    encodeP95Ms: pct(times, 95),
    cpuMsPerFrame: cpu,
    coreAtFps: (cpu * c.fps) / 10,
    jsMs: Number(js) / 1e6 / count,
    kbps: (bytes * 8 * c.fps) / count / 1000,
    target: c.kbps,
  };
}

async function decodeRun(codec: VideoCodecName, packets: Buffer[], fps: number) {
  const times: number[] = [];
  let bad = 0;
  const dec = VideoDecoder.create(
    { codec },
    { onFrame: (f) => times.push(f.decodeMs), onKeyframeNeeded: () => bad++ },
  );
  if (dec === null) throw new Error('codec addon unavailable');
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < packets.length; i++) {
    dec.decode(packets[i], i);
    await dec.idle();
  }
  const cpu = cpuMs(cpu0) / packets.length;
  dec.close();
  if (bad > 0 || times.length !== packets.length)
    throw new Error(`${codec} decode: ${bad} units undecodable`);
  return {
    decodeMs: times.reduce((a, b) => a + b, 0) / times.length,
    cpuMsPerFrame: cpu,
    coreAtFps: (cpu * fps) / 10,
  };
}

/**
 * Opus cost in CPU time of this (the calling) thread's process, best of 5 rounds: the codec is
 * synchronous, so wall time on a shared 2-core box would mostly measure other processes.
 */
function opusRun(frameMs: number, complexity: number, pcm: Int16Array) {
  const n = (48000 / 1000) * frameMs;
  const frames = Math.floor(pcm.length / n);
  const out = new Uint8Array(OPUS_MAX_PACKET_BYTES);
  const back = new Int16Array(n);
  let encUs = Infinity;
  let decUs = Infinity;
  for (let round = 0; round < 5; round++) {
    const enc = OpusEncoder.create({ complexity, bitrateBps: 32000, fec: true, packetLossPercent: 5 });
    const dec = OpusDecoder.create({});
    if (enc === null || dec === null) throw new Error('codec addon unavailable');
    const packets: Uint8Array[] = [];
    let cpu0 = process.cpuUsage();
    for (let i = 0; i < frames; i++)
      packets.push(out.slice(0, enc.encode(pcm.subarray(i * n, (i + 1) * n), out)));
    encUs = Math.min(encUs, (cpuMs(cpu0) * 1000) / frames);
    cpu0 = process.cpuUsage();
    for (const p of packets) dec.decode(p, back);
    decUs = Math.min(decUs, (cpuMs(cpu0) * 1000) / frames);
    enc.close();
    dec.close();
  }
  const perSecond = 1000 / frameMs;
  return { encUs, decUs, encCore: (encUs * perSecond) / 1e4, decCore: (decUs * perSecond) / 1e4 };
}

/**
 * Runtime control at 640x360 @ 15: 3 s at 550 kbps, setBitrate(275), 3 s more (rates over the
 * last 2 s of each); a keyframe requested before frame 80.
 */
async function controlRun(codec: VideoCodecName, frames: I420Frame[]) {
  const sizes: number[] = [];
  const keys: number[] = [];
  const enc = VideoEncoder.create({ codec, width: 640, height: 360, fps: 15, bitrateKbps: 550 }, (f) => {
    sizes.push(f.data.length);
    if (f.keyframe) keys.push(f.pts);
  });
  if (enc === null) throw new Error('codec addon unavailable');
  for (let i = 0; i < 90; i++) {
    if (i === 45) enc.setBitrate(275);
    if (i === 80) enc.requestKeyframe();
    enc.encode(frames[i % frames.length].data, i);
    await enc.idle();
  }
  enc.close();
  const kbps = (from: number, to: number): number =>
    (sizes.slice(from, to).reduce((a, b) => a + b, 0) * 8 * 15) / (to - from) / 1000;
  return { before: kbps(15, 45), after: kbps(60, 90), keys, keySize: sizes[80], pSize: sizes[79] };
}

const median = (v: number[]): number => pct(v, 50);

/**
 * Memory over a long run: encode -> decode of `count` 640x360 frames, RSS and ArrayBuffer
 * memory read every 1000 frames (after a full GC when node runs with --expose-gc).
 */
async function soakRun(codec: VideoCodecName, frames: I420Frame[], count: number): Promise<string[]> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const marks: string[] = [];
  let decoded = 0;
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const dec = VideoDecoder.create(
    { codec },
    {
      onFrame: () => {
        decoded++;
        if (decoded % 1000 === 0) {
          gc?.();
          const m = process.memoryUsage();
          marks.push(`${decoded}: ${fmt(m.rss / 1048576, 1)}/${fmt(m.arrayBuffers / 1048576, 2)}`);
        }
        if (decoded === count) finished();
        else enc?.encode(frames[decoded % frames.length].data, decoded);
      },
      onKeyframeNeeded: () => undefined,
    },
  );
  const enc = VideoEncoder.create({ codec, width: 640, height: 360, fps: 15, bitrateKbps: 550 }, (f) =>
    dec?.decode(f.data, f.pts),
  );
  if (enc === null || dec === null) throw new Error('codec addon unavailable');
  enc.encode(frames[0].data, 0);
  await done;
  enc.close();
  dec.close();
  return marks;
}

export async function runCodecBench(args: Args, log: (line: string) => void = console.log): Promise<void> {
  const avail = codecsAvailable();
  if (!avail.available) {
    log(`codecs unavailable: ${avail.reason}`);
    return;
  }
  log(`# codec micro-benchmark (${new Date().toISOString()})`);
  log(
    `libraries: ${Object.entries(avail.versions ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  log(`${args.frames} frames per video case, back to back; CPU = process CPU (both threads) per frame\n`);
  const sources = new Map<string, I420Frame[]>();
  const framesFor = (w: number, h: number): I420Frame[] => {
    const key = `${w}x${h}`;
    let f = sources.get(key);
    if (f === undefined) sources.set(key, (f = cameraFrames(w, h)));
    return f;
  };

  log('## Video encode');
  log(
    '| encoder | profile | encode ms (mean / p95) | CPU ms/frame | % of a core at fps | JS thread ms/frame | kbps (target) |',
  );
  log('|---|---|---|---|---|---|---|');
  const cases: VideoCase[] = [];
  for (const p of Object.values(OUTPUT_PROFILES)) {
    const base = { width: p.width, height: p.height, fps: p.fps, kbps: p.maxVideoKbps };
    cases.push({ ...base, codec: 'vp8', label: 'VP8 (libvpx, speed -6/-4)' });
    cases.push({ ...base, codec: 'h264', label: 'H.264 (x264 superfast)' });
  }
  const high = OUTPUT_PROFILES.high;
  const highBase = { width: high.width, height: high.height, fps: high.fps, kbps: high.maxVideoKbps };
  cases.push({ ...highBase, codec: 'vp8', vp8Speed: -10, label: 'VP8 (libvpx, speed -10)' });
  cases.push({ ...highBase, codec: 'h264', preset: 'ultrafast', label: 'H.264 (x264 ultrafast)' });
  for (const c of cases) {
    const r = await encodeRun(c, framesFor(c.width, c.height), args.frames);
    log(
      `| ${r.label} | ${r.profile} | ${fmt(r.encodeMs)} / ${fmt(r.encodeP95Ms)} | ${fmt(r.cpuMsPerFrame)} | ${fmt(r.coreAtFps, 1)} % | ${fmt(r.jsMs, 3)} | ${fmt(r.kbps, 0)} (${r.target}) |`,
    );
  }

  log('\n## Video decode (stream from our encoder)');
  log('| decoder | stream | decode ms | CPU ms/frame | % of a core at fps |');
  log('|---|---|---|---|---|');
  for (const p of [OUTPUT_PROFILES.standard, OUTPUT_PROFILES.high]) {
    for (const codec of ['h264', 'vp8'] as const) {
      const packets: Buffer[] = [];
      const c = { codec, width: p.width, height: p.height, fps: p.fps, kbps: p.maxVideoKbps, label: '' };
      await encodeRun(c, framesFor(p.width, p.height), args.frames, packets);
      const r = await decodeRun(codec, packets, p.fps);
      log(
        `| ${codec === 'h264' ? 'H.264' : 'VP8'} (libavcodec) | ${p.width}x${p.height}@${p.fps}, ${p.maxVideoKbps} kbps | ${fmt(r.decodeMs)} | ${fmt(r.cpuMsPerFrame)} | ${fmt(r.coreAtFps, 1)} % |`,
      );
    }
  }

  log('\n## Opus (48 kHz mono, 32 kbit/s, FEC on; synchronous on the calling thread)');
  log('| frame | complexity | encode µs/frame | decode µs/frame | % of a core per stream (enc + dec) |');
  log('|---|---|---|---|---|');
  const voice = voiceLike(10);
  for (const frameMs of [10, 20]) {
    for (const complexity of [0, 5, 10]) {
      opusRun(frameMs, complexity, voice.subarray(0, 48000)); // warm-up
      const r = opusRun(frameMs, complexity, voice);
      log(
        `| ${frameMs} ms | ${complexity} | ${fmt(r.encUs, 1)} | ${fmt(r.decUs, 1)} | ${fmt(r.encCore + r.decCore, 2)} % |`,
      );
    }
  }

  log('\n## Runtime control (640x360 @ 15, busy content)');
  log(
    '| codec | kbps at 550 | kbps after setBitrate(275) | keyframes at frames | keyframe bytes (previous frame) |',
  );
  log('|---|---|---|---|---|');
  for (const codec of ['vp8', 'h264'] as const) {
    const r = await controlRun(codec, framesFor(640, 360));
    log(
      `| ${codec} | ${fmt(r.before, 0)} | ${fmt(r.after, 0)} | ${r.keys.join(', ')} | ${r.keySize} (${r.pSize}) |`,
    );
  }

  if (args.soak > 0) {
    const gcNote =
      'gc' in globalThis
        ? 'full GC before each reading'
        : 'run node with --expose-gc for a GC before each reading';
    log(`\n## Memory: ${args.soak} frames of 640x360 encode + decode per codec (${gcNote})`);
    log('RSS MB / ArrayBuffer MB at frame counts:\n');
    for (const codec of ['vp8', 'h264'] as const) {
      log(`- ${codec}: ${(await soakRun(codec, framesFor(640, 360), args.soak)).join(', ')}`);
    }
  }

  log(
    `\n## Side by side, paced: 640x360 @ 15 fps, ${PACED_KBPS} kbit/s cap, ${args.pacedSeconds} s x ${args.rounds} rounds (interleaved)`,
  );
  log('Process CPU as % of one core: median (min–max) over the rounds; fps and kbit/s: medians.\n');
  log('| path | % of a core | offered fps | delivered fps | kbit/s |');
  log('|---|---|---|---|---|');
  const std = framesFor(640, 360);
  const paths: { label: string; run: () => Promise<PacedResult> }[] = [];
  if (args.wrtc) {
    paths.push({
      label: '@roamhq/wrtc pair: libwebrtc VP8 encode + decode (today, per participant)',
      run: () => wrtcPair(std, args.pacedSeconds),
    });
  }
  for (const codec of ['vp8', 'h264'] as const) {
    paths.push({
      label: `native/codec ${codec === 'vp8' ? 'VP8' : 'H.264'} encode + decode`,
      run: () => ownPair(codec, std, args.pacedSeconds),
    });
  }
  const results = paths.map((): PacedResult[] => []);
  for (let round = 0; round < args.rounds; round++) {
    for (let k = 0; k < paths.length; k++) results[k].push(await paths[k].run());
  }
  paths.forEach((p, k) => {
    const r = results[k];
    const core = r.map((x) => x.core);
    log(
      `| ${p.label} | ${fmt(median(core), 1)} % (${fmt(Math.min(...core), 1)}–${fmt(Math.max(...core), 1)}) | ${fmt(median(r.map((x) => x.offeredFps)), 1)} | ${fmt(median(r.map((x) => x.deliveredFps)), 1)} | ${fmt(median(r.map((x) => x.kbps)), 0)} |`,
    );
  });
}

if (require.main === module) {
  setLogSink(() => undefined);
  runCodecBench(parseArgs(process.argv.slice(2)))
    .then(() => process.exit(0))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
