import { MediaClock } from '../../../workers/media/media-clock';

describe('MediaClock', () => {
  it('runs as many ticks as time has passed, not as many as timers fired', async () => {
    let ticks = 0;
    const clock = new MediaClock(10, () => {
      ticks++;
    });
    const started = performance.now();
    clock.start();
    // Block the event loop: timers cannot fire, yet no tick may be lost.
    const until = performance.now() + 120;
    while (performance.now() < until) {
      /* busy */
    }
    await new Promise((r) => setTimeout(r, 100));
    clock.stop();
    const expected = (performance.now() - started) / 10;
    expect(ticks).toBeGreaterThanOrEqual(Math.floor(expected) - 2);
    expect(ticks).toBeLessThanOrEqual(Math.ceil(expected) + 1);
  });

  it('skips ahead after a stall longer than its catch-up window instead of bursting', async () => {
    let ticks = 0;
    const clock = new MediaClock(
      10,
      () => {
        ticks++;
      },
      50,
    );
    clock.start();
    const until = performance.now() + 300;
    while (performance.now() < until) {
      /* busy */
    }
    await new Promise((r) => setTimeout(r, 20));
    clock.stop();
    expect(clock.skippedTicks).toBeGreaterThan(20);
    expect(ticks).toBeLessThan(15);
  });
});
