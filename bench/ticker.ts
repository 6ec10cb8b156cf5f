/**
 * A drift-free periodic callback for the load generator: it schedules against absolute times,
 * so 15 fps stays 15 fps and 10 ms audio stays 100 chunks a second even when the process is
 * busy (late wake-ups run every due tick, up to a bound, instead of drifting).
 */
export class Ticker {
  private timer: NodeJS.Timeout | null = null;
  private next = 0;

  constructor(
    private readonly periodMs: number,
    private readonly onTick: (now: number) => void,
    /** After a stall longer than this, skip ahead instead of bursting. */
    private readonly maxCatchUpMs = 200,
  ) {}

  start(offsetMs = 0): void {
    if (this.timer) return;
    this.next = performance.now() + offsetMs;
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    this.timer = setTimeout(this.wake, Math.max(0, this.next - performance.now()));
  }

  private readonly wake = (): void => {
    let now = performance.now();
    if (now - this.next > this.maxCatchUpMs)
      this.next += Math.floor((now - this.next) / this.periodMs) * this.periodMs;
    while (this.next <= now && this.timer) {
      this.onTick(now);
      this.next += this.periodMs;
      now = performance.now();
    }
    if (this.timer) this.schedule();
  };
}

/** The one clock of the benchmark: wall-clock milliseconds with sub-ms resolution, same in every participant. */
export function benchNow(): number {
  return performance.timeOrigin + performance.now();
}
