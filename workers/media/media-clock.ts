/**
 * A drift-free periodic clock for the real-time path. Node timers fire late and never early,
 * and a plain setInterval accumulates that lateness. This clock schedules against absolute
 * times: each wake-up runs every tick whose time has come (so 10 ms audio stays exactly 100
 * ticks a second), and if the process stalled for longer than `maxCatchUpMs` it skips ahead
 * instead of bursting (a burst would only flood the jitter buffers downstream).
 */
export class MediaClock {
  private timer: NodeJS.Timeout | null = null;
  private next = 0;
  private ticks = 0;
  private skipped = 0;
  /** How late each tick ran (ms) since the last takeLateness(); a fixed ring, no allocation per tick. */
  private readonly lateness = new Float64Array(1024);
  private latenessCount = 0;

  constructor(
    readonly periodMs: number,
    private readonly onTick: (tickIndex: number, nowMs: number) => void,
    private readonly maxCatchUpMs = 200,
  ) {}

  get running(): boolean {
    return this.timer !== null;
  }

  get tickCount(): number {
    return this.ticks;
  }

  get skippedTicks(): number {
    return this.skipped;
  }

  /** The p95 of tick lateness (ms) since the previous call, and how many ticks it covers. */
  takeLateness(): { p95Ms: number; ticks: number } {
    const n = Math.min(this.latenessCount, this.lateness.length);
    const ticks = this.latenessCount;
    this.latenessCount = 0;
    if (n === 0) return { p95Ms: 0, ticks };
    const sorted = this.lateness.slice(0, n).sort();
    return { p95Ms: sorted[Math.min(n - 1, Math.floor(n * 0.95))], ticks };
  }

  start(): void {
    if (this.timer) return;
    this.next = performance.now();
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    const delay = Math.max(0, this.next - performance.now());
    this.timer = setTimeout(this.wake, delay);
  }

  private readonly wake = (): void => {
    let now = performance.now();
    if (now - this.next > this.maxCatchUpMs) {
      const missed = Math.floor((now - this.next) / this.periodMs);
      this.skipped += missed;
      this.next += missed * this.periodMs;
    }
    while (this.next <= now && this.timer) {
      this.lateness[this.latenessCount++ % this.lateness.length] = now - this.next;
      this.onTick(this.ticks++, this.next);
      this.next += this.periodMs;
      now = performance.now();
    }
    if (this.timer) this.schedule();
  };
}
