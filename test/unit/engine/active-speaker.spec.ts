import { ActiveSpeakerDetector } from '../../../workers/media/engine/audio/active-speaker';

/** Runs the detector every 10 ms from `from` to `to` with levels from `levelAt`; returns the switches seen. */
function run(
  detector: ActiveSpeakerDetector,
  from: number,
  to: number,
  levelAt: (id: string, t: number) => number,
): { t: number; id: string }[] {
  const levels = new Map<string, number>();
  const switches: { t: number; id: string }[] = [];
  for (let t = from; t < to; t += 10) {
    for (const id of ['alice', 'bob', 'carol']) levels.set(id, levelAt(id, t));
    const changed = detector.update(levels, t);
    if (changed !== null) switches.push({ t, id: changed });
  }
  return switches;
}

describe('ActiveSpeakerDetector', () => {
  it('switches to a participant after sustained speech', () => {
    const d = new ActiveSpeakerDetector();
    const switches = run(d, 0, 3000, (id) => (id === 'bob' ? 0.1 : 0.001));
    expect(switches).toHaveLength(1);
    expect(switches[0].id).toBe('bob');
    expect(switches[0].t).toBeGreaterThanOrEqual(600);
    expect(switches[0].t).toBeLessThan(1000);
    expect(d.current).toBe('bob');
  });

  it('does not flap on a 100 ms noise burst', () => {
    const d = new ActiveSpeakerDetector();
    run(d, 0, 3000, (id) => (id === 'alice' ? 0.08 : 0.001));
    expect(d.current).toBe('alice');
    // Carol coughs loudly for 100 ms while alice keeps talking, then again in silence.
    const burst = run(d, 3000, 6000, (id, t) => {
      if (id === 'carol') return (t >= 3500 && t < 3600) || (t >= 5000 && t < 5100) ? 0.6 : 0.001;
      return id === 'alice' && t < 4500 ? 0.08 : 0.001;
    });
    expect(burst).toEqual([]);
    expect(d.current).toBe('alice');
  });

  it('keeps the floor for the hold time, then hands over to the louder talker', () => {
    const d = new ActiveSpeakerDetector({ switchAfterMs: 600, holdMs: 1500 });
    run(d, 0, 1000, (id) => (id === 'alice' ? 0.08 : 0.001));
    expect(d.current).toBe('alice');
    const became = d.current;
    const switches = run(d, 1000, 4000, (id) => (id === 'bob' ? 0.3 : id === 'alice' ? 0.05 : 0.001));
    expect(became).toBe('alice');
    expect(switches).toHaveLength(1);
    expect(switches[0].id).toBe('bob');
    // alice took the floor around t=600; bob cannot take it before hold and switch delay pass.
    expect(switches[0].t).toBeGreaterThanOrEqual(1600);
  });

  it('bridges short pauses between words', () => {
    const d = new ActiveSpeakerDetector();
    // Bob talks in 300 ms bursts with 150 ms gaps: still one continuous candidacy.
    const switches = run(d, 0, 2000, (id, t) => (id === 'bob' && t % 450 < 300 ? 0.1 : 0.001));
    expect(switches.map((s) => s.id)).toEqual(['bob']);
  });

  it('forgets a participant who left', () => {
    const d = new ActiveSpeakerDetector();
    run(d, 0, 2000, (id) => (id === 'carol' ? 0.1 : 0.001));
    expect(d.current).toBe('carol');
    d.remove('carol');
    expect(d.current).toBeNull();
  });
});
