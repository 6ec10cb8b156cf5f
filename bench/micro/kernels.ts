/**
 * Micro-benchmark of the real-time kernels (compositor/scaler, mix-minus with jitter reads).
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/micro/kernels.js [iterations] [--baseline]
 * Targets are printed beside the numbers; a miss is reported, never turned into an exit code.
 * The compositor cases use the scaler's default kernel (libyuv when native/yuv-scale is
 * built); the `_native` / `_ts` cases time each kernel on the same tiles side by side.
 */
import { FRAME_SAMPLES, JitterBuffer } from '../../workers/media/engine/audio/jitter-buffer';
import { MixMinusMixer } from '../../workers/media/engine/audio/mixer';
import { Compositor, TileSource } from '../../workers/media/engine/video/compositor';
import { I420Frame, createI420, rgbToYuv, fillRect } from '../../workers/media/engine/video/i420';
import { Tile, planLayout } from '../../workers/media/engine/video/layout';
import { loadNativeScaler } from '../../workers/media/engine/video/native-scaler';
import type { Fit } from '../../workers/media/engine/video/scale-plan';
import { I420Scaler } from '../../workers/media/engine/video/scaler';
import { naiveScaleCrop } from './naive-scaler';

export interface KernelBenchOptions {
  iterations?: number;
  /** Also time the untuned reference scaler (the "before" column). */
  baseline?: boolean;
  log?: (line: string) => void;
}

interface Case {
  key: string;
  unit: 'ms' | 'us';
  target?: number;
  run: () => void;
}

/** A source with structure (gradients + blocks) so nothing is accidentally flat or cache-trivial. */
function makeSource(width: number, height: number, seed: number): I420Frame {
  const frame = createI420(width, height);
  const d = frame.data;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) d[y * width + x] = (x + y * 3 + seed * 29) & 255;
  }
  const colour = rgbToYuv({ r: (seed * 70) & 255, g: (seed * 130) & 255, b: (seed * 200) & 255 });
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  d.fill(colour.u, width * height, width * height + cw * ch);
  d.fill(colour.v, width * height + cw * ch);
  fillRect(frame, width >> 2, height >> 2, width >> 1, height >> 1, colour);
  return frame;
}

function ids(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `p${i}`);
}

function composeCase(key: string, cols: number, w: number, h: number, fit: Fit, target?: number): Case {
  const n = cols * cols;
  const tiles = planLayout('grid', ids(n), { width: w, height: h });
  const sources = new Map<string, TileSource>();
  ids(n).forEach((id, i) => sources.set(id, { frame: makeSource(640, 480, i + 1), displayName: id }));
  const compositor = new Compositor(w, h);
  const sourceOf = (id: string): TileSource => sources.get(id) as TileSource;
  return { key, unit: 'ms', target, run: () => compositor.compose(tiles, sourceOf, fit) };
}

/** What compose() does per tile, on a scaler with a chosen kernel (the compositor always takes the default). */
function scalerCase(key: string, cols: number, w: number, h: number, native: boolean, target?: number): Case {
  const n = cols * cols;
  const tiles: Tile[] = planLayout('grid', ids(n), { width: w, height: h });
  const frames = ids(n).map((_, i) => makeSource(640, 480, i + 1));
  const canvas = createI420(w, h);
  const scaler = new I420Scaler({ native });
  return {
    key,
    unit: 'ms',
    target,
    run: () => {
      for (let i = 0; i < tiles.length; i++) scaler.scaleInto(frames[i], canvas, tiles[i], 'crop');
    },
  };
}

function naiveCase(key: string, cols: number, w: number, h: number): Case {
  const n = cols * cols;
  const tiles: Tile[] = planLayout('grid', ids(n), { width: w, height: h });
  const frames = ids(n).map((_, i) => makeSource(640, 480, i + 1));
  const canvas = createI420(w, h);
  return {
    key,
    unit: 'ms',
    run: () => {
      for (let i = 0; i < tiles.length; i++) naiveScaleCrop(frames[i], canvas, tiles[i]);
    },
  };
}

/** 16 participants: read 10 ms from each jitter buffer, then mix-minus. Refilled outside the timing. */
function mixCase(target: number): { c: Case; refill: () => void; ticksPerRefill: number } {
  const n = 16;
  const ticksPerRefill = 8;
  const buffers = Array.from({ length: n }, () => new JitterBuffer({ targetFrames: 1, capacityFrames: 10 }));
  const chunk = new Int16Array(FRAME_SAMPLES);
  const inputs = Array.from({ length: n }, () => new Int16Array(FRAME_SAMPLES));
  const outputs = Array.from({ length: n }, () => new Int16Array(FRAME_SAMPLES));
  const mixAll = new Int16Array(FRAME_SAMPLES);
  const contributes = new Uint8Array(n).fill(1);
  const mixer = new MixMinusMixer(n);
  const refill = (): void => {
    for (let p = 0; p < n; p++) {
      for (let s = 0; s < FRAME_SAMPLES; s++)
        chunk[s] = Math.round(8000 * Math.sin((s * (p + 1) * Math.PI) / 240));
      for (let k = 0; k < ticksPerRefill; k++) buffers[p].push(chunk, 48000, 1);
    }
  };
  const run = (): void => {
    for (let p = 0; p < n; p++) buffers[p].readInto(inputs[p]);
    mixer.mix(n, inputs, contributes, outputs, mixAll);
  };
  return { c: { key: 'mixminus16_us', unit: 'us', target, run }, refill, ticksPerRefill };
}

/**
 * Times `rounds` rounds of iterations/rounds operations each and returns the best and the
 * median round (per operation). Other processes share this 2-core machine, so the best
 * round is the steadiest estimate of the kernel's own cost; the median shows the noise.
 */
function timeCase(c: Case, iterations: number, refill?: () => void, ticksPerRefill = 1): Timing {
  const rounds = 30;
  const perRound = Math.max(1, Math.floor(iterations / rounds));
  let sinceRefill = ticksPerRefill;
  const runOps = (count: number): bigint => {
    let total = 0n;
    let done = 0;
    while (done < count) {
      if (refill && sinceRefill >= ticksPerRefill) {
        refill();
        sinceRefill = 0;
      }
      const batch = refill ? Math.min(count - done, ticksPerRefill - sinceRefill) : count - done;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < batch; i++) c.run();
      total += process.hrtime.bigint() - t0;
      done += batch;
      sinceRefill += batch;
    }
    return total;
  };
  runOps(Math.max(20, perRound * 2));
  const perOp: number[] = [];
  for (let r = 0; r < rounds; r++) perOp.push(Number(runOps(perRound)) / perRound);
  perOp.sort((a, b) => a - b);
  const scale = c.unit === 'ms' ? 1e6 : 1e3;
  return { best: perOp[0] / scale, median: perOp[rounds >> 1] / scale };
}

interface Timing {
  best: number;
  median: number;
}

export async function runKernelBench(opts: KernelBenchOptions = {}): Promise<Record<string, number>> {
  const iterations = opts.iterations ?? 400;
  const log = opts.log ?? ((line: string) => console.log(line));
  const cases: { c: Case; refill?: () => void; ticksPerRefill?: number }[] = [
    { c: composeCase('grid3x3_640x360_ms', 3, 640, 360, 'crop', 0.7) },
    { c: composeCase('grid3x3_1280x720_ms', 3, 1280, 720, 'crop', 2.5) },
    { c: composeCase('grid2x2_640x360_ms', 2, 640, 360, 'crop') },
    // The `low` profile's canvas: every tile shrinks 4x (area averaging, docs/engine-kernels.md).
    { c: composeCase('grid2x2_320x180_ms', 2, 320, 180, 'crop') },
    { c: composeCase('grid3x3_640x360_letterbox_ms', 3, 640, 360, 'letterbox') },
    { c: composeCase('grid3x3_1280x720_letterbox_ms', 3, 1280, 720, 'letterbox') },
  ];
  const grids: [string, number, number, number, number | undefined][] = [
    ['grid3x3_640x360', 3, 640, 360, 0.7],
    ['grid3x3_1280x720', 3, 1280, 720, 2.5],
    ['grid2x2_640x360', 2, 640, 360, undefined],
    ['grid2x2_320x180', 2, 320, 180, undefined],
  ];
  const kernels = loadNativeScaler() === null ? ['ts'] : ['native', 'ts'];
  for (const [name, cols, w, h, target] of grids) {
    for (const kernel of kernels) {
      cases.push({ c: scalerCase(`${name}_${kernel}_ms`, cols, w, h, kernel === 'native', target) });
    }
  }
  if (opts.baseline) {
    cases.push({ c: naiveCase('naive_grid3x3_640x360_ms', 3, 640, 360) });
    cases.push({ c: naiveCase('naive_grid3x3_1280x720_ms', 3, 1280, 720) });
  }
  cases.push(mixCase(30));

  const results: Record<string, number> = {};
  log(`kernel micro-benchmark: ${iterations} iterations per case (after warm-up)`);
  log(
    `  video scaler default kernel: ${new I420Scaler().kernel}${kernels.length === 1 ? ' (addon not built)' : ''}`,
  );
  for (const { c, refill, ticksPerRefill } of cases) {
    // Yield between cases so a caller's event loop (progress output, timers) keeps moving.
    await new Promise((resolve) => setImmediate(resolve));
    const t = timeCase(c, c.unit === 'us' ? iterations * 20 : iterations, refill, ticksPerRefill);
    results[c.key] = t.best;
    results[`${c.key}_median`] = t.median;
    const digits = c.unit === 'ms' ? 3 : 2;
    const target =
      c.target === undefined ? '' : `  ${t.best <= c.target ? 'PASS' : 'FAIL'} (target <= ${c.target})`;
    log(
      `  ${c.key.padEnd(32)} best ${t.best.toFixed(digits).padStart(8)} ${c.unit}` +
        `  median ${t.median.toFixed(digits).padStart(8)} ${c.unit}${target}`,
    );
  }
  return results;
}

if (require.main === module) {
  const arg = Number(process.argv[2]);
  const baseline = process.argv.includes('--baseline');
  void runKernelBench({ iterations: Number.isFinite(arg) && arg > 0 ? arg : undefined, baseline });
}
