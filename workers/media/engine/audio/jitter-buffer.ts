/**
 * Per-participant audio jitter buffer. RTCAudioSink hands us 10 ms chunks at whatever rate
 * and channel count the decoder chose (a stream has been seen to start at 16 kHz mono and
 * switch to 48 kHz), arriving in bursts. Everything downstream works on one format:
 * 48 kHz mono Int16 in 10 ms frames, read on the mixer's clock.
 */
export const SAMPLE_RATE = 48000;
export const FRAME_SAMPLES = 480;
/**
 * Clock drift: a sender whose audio clock runs a little fast fills the buffer slowly until
 * capacity (measured: an RTP-level member's wait grew from 28 to 116 ms in 3 minutes, the lip-sync
 * delay of its video with it). When the buffer never fell below target + 2 frames at a read for
 * this many reads (2 s), it holds a standing surplus that jitter does not explain: the surplus is
 * dropped, down to target + 1 frame. A slow sender is already handled by underruns (playback
 * restarts at the target).
 */
const DRIFT_WINDOW_READS = 200;

export interface JitterBufferOptions {
  /** Frames buffered before playback starts (and restarts after an underrun). */
  targetFrames?: number;
  /** Most frames kept; older ones are dropped so latency stays bounded. */
  capacityFrames?: number;
  /**
   * Drop a standing surplus (see DRIFT_WINDOW_READS). For raw RTP audio (RTP-level members),
   * whose sender's clock we follow directly; wrtc members' audio comes through NetEq, which
   * already follows the sender's clock, and their lip-sync estimate was calibrated without it.
   */
  driftControl?: boolean;
}

function clamp16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

export class JitterBuffer {
  private readonly targetSamples: number;
  private readonly capacitySamples: number;
  private readonly ring: Int16Array;
  /** One view per frame slot of the ring. */
  private readonly frameViews: Int16Array[];
  private readIndex = 0;
  private writeIndex = 0;
  private count = 0;
  private playing = false;
  private underrunCount = 0;
  /** Σ samples buffered at each successful read, and the reads: the buffer's mean wait (lip sync). */
  private depthSum = 0;
  private depthReads = 0;
  /** Drift control: reads in the current window, the lowest occupancy at a read, frames dropped. */
  private windowReads = 0;
  private windowMin = Number.POSITIVE_INFINITY;
  private driftDropCount = 0;
  private readonly driftControl: boolean;

  // Linear resampler state, kept across pushes so chunk boundaries leave no clicks:
  // the next output sample sits `phase / SAMPLE_RATE` input samples after `previous`.
  private inputRate = 0;
  private previous = 0;
  private phase = 0;

  constructor(opts: JitterBufferOptions = {}) {
    const target = Math.max(1, Math.floor(opts.targetFrames ?? 2));
    const capacity = Math.max(target, Math.floor(opts.capacityFrames ?? 10));
    this.targetSamples = target * FRAME_SAMPLES;
    this.driftControl = opts.driftControl === true;
    this.capacitySamples = capacity * FRAME_SAMPLES;
    // One spare frame so a write never has to wait for the trim that follows it.
    this.ring = new Int16Array(this.capacitySamples + FRAME_SAMPLES);
    this.frameViews = [];
    for (let f = 0; f < this.ring.length / FRAME_SAMPLES; f++) {
      this.frameViews.push(this.ring.subarray(f * FRAME_SAMPLES, (f + 1) * FRAME_SAMPLES));
    }
  }

  get underruns(): number {
    return this.underrunCount;
  }

  /** Frames dropped for a standing surplus (sender clock drift), see DRIFT_WINDOW_READS. */
  get driftDrops(): number {
    return this.driftDropCount;
  }

  /** Whole 10 ms frames ready to read. */
  get depth(): number {
    return Math.floor(this.count / FRAME_SAMPLES);
  }

  /**
   * Mean time (ms) a sample waited here since the previous call, by Little's law: the mean
   * occupancy (seen just before each read, less the half frame the read then takes on average)
   * over the 48 kHz throughput. Null when nothing was read.
   */
  takeMeanWaitMs(): number | null {
    const reads = this.depthReads;
    const sum = this.depthSum;
    this.depthReads = 0;
    this.depthSum = 0;
    if (reads === 0) return null;
    return (sum / reads - FRAME_SAMPLES / 2) / (SAMPLE_RATE / 1000);
  }

  reset(): void {
    this.readIndex = 0;
    this.writeIndex = 0;
    this.count = 0;
    this.playing = false;
    this.windowReads = 0;
    this.windowMin = Number.POSITIVE_INFINITY;
    this.inputRate = 0;
    this.previous = 0;
    this.phase = 0;
  }

  /** Int16 interleaved samples at any rate and channel count; downmixed and resampled on the fly. */
  push(samples: Int16Array, sampleRate: number, channelCount: number): void {
    const channels = Math.max(1, Math.floor(channelCount));
    const frames = Math.floor(samples.length / channels);
    if (frames === 0 || !(sampleRate > 0)) return;
    if (sampleRate !== this.inputRate) {
      if (this.inputRate > 0)
        this.bridgeRateChange(this.inputRate, sampleRate, this.monoAt(samples, 0, channels));
      this.inputRate = sampleRate;
    }
    const step = sampleRate;
    // Input frame k sits at time k + 1 (in input periods) after `previous`, which sits at 0.
    let phase = this.phase;
    let prev = this.previous;
    const limit = frames * SAMPLE_RATE;
    while (phase <= limit) {
      const whole = Math.floor(phase / SAMPLE_RATE);
      const frac = phase - whole * SAMPLE_RATE;
      const a = whole === 0 ? prev : this.monoAt(samples, whole - 1, channels);
      const value =
        frac === 0 ? a : a + Math.round(((this.monoAt(samples, whole, channels) - a) * frac) / SAMPLE_RATE);
      this.write(value);
      phase += step;
    }
    this.phase = phase - limit;
    prev = this.monoAt(samples, frames - 1, channels);
    this.previous = prev;
    this.trim();
  }

  /** Copies the next 10 ms into out; on underrun (or while refilling) fills zeros and returns false. */
  readInto(out: Int16Array): boolean {
    if (!this.playing) {
      if (this.count < this.targetSamples) {
        out.fill(0, 0, FRAME_SAMPLES);
        return false;
      }
      this.playing = true;
    }
    if (this.count < FRAME_SAMPLES) {
      this.underrunCount++;
      this.playing = false;
      out.fill(0, 0, FRAME_SAMPLES);
      return false;
    }
    this.depthSum += this.count;
    this.depthReads++;
    if (this.count < this.windowMin) this.windowMin = this.count;
    if (this.driftControl && ++this.windowReads >= DRIFT_WINDOW_READS) {
      // Checked before this read takes its frame: a surplus of two frames leaves one after it.
      // The whole standing surplus goes, down to target + 1 frame at the lowest point.
      const surplus = Math.floor((this.windowMin - this.targetSamples) / FRAME_SAMPLES) - 1;
      if (surplus >= 1) {
        this.dropOldest(surplus * FRAME_SAMPLES);
        this.driftDropCount += surplus;
      }
      this.windowReads = 0;
      this.windowMin = Number.POSITIVE_INFINITY;
    }
    // Reads start on frame boundaries of the ring (drops are whole frames too), so a read is
    // one memcpy from a view made at construction: a JS copy loop measured 8x slower and
    // subarray() per read would allocate.
    const frame = this.readIndex / FRAME_SAMPLES;
    out.set(this.frameViews[frame]);
    this.readIndex = frame + 1 === this.frameViews.length ? 0 : this.readIndex + FRAME_SAMPLES;
    this.count -= FRAME_SAMPLES;
    return true;
  }

  /**
   * The first sample at a new rate arrives one *old* period after `previous`, while the
   * resampling loop assumes one new period. Emit the outputs that fall in that gap here,
   * interpolating over its real length, then hand the loop a phase measured from the first
   * new sample: the output timeline stays continuous (no skipped or repeated sample, no click).
   */
  private bridgeRateChange(oldRate: number, newRate: number, first: number): void {
    const gap = SAMPLE_RATE / oldRate; // in output periods
    let t = this.phase / oldRate; // next output, in output periods after `previous`
    const prev = this.previous;
    while (t < gap) {
      this.write(prev + Math.round(((first - prev) * t) / gap));
      t += 1;
    }
    // The loop places input sample 0 one period (SAMPLE_RATE units) after `previous`.
    this.phase = Math.round((t - gap) * newRate) + SAMPLE_RATE;
  }

  private monoAt(samples: Int16Array, frame: number, channels: number): number {
    if (channels === 1) return samples[frame];
    const base = frame * channels;
    if (channels === 2) return (samples[base] + samples[base + 1]) >> 1;
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += samples[base + c];
    return Math.round(sum / channels);
  }

  private write(value: number): void {
    // Ring full in the middle of a long push: the oldest frame makes room first.
    if (this.count === this.ring.length) this.dropOldest(FRAME_SAMPLES);
    const ring = this.ring;
    ring[this.writeIndex] = clamp16(value);
    this.writeIndex = this.writeIndex + 1 === ring.length ? 0 : this.writeIndex + 1;
    this.count++;
  }

  /** Drops the oldest frames beyond capacity: a sender running fast must not grow our latency. */
  private trim(): void {
    const excessFrames = this.depth - this.capacitySamples / FRAME_SAMPLES;
    if (excessFrames > 0) this.dropOldest(excessFrames * FRAME_SAMPLES);
  }

  /** Whole frames only, so reads stay on frame boundaries. */
  private dropOldest(samples: number): void {
    this.readIndex = (this.readIndex + samples) % this.ring.length;
    this.count -= samples;
  }
}
