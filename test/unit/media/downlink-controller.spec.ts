import type { DownlinkProfile } from '../../../workers/protocol/media';
import {
  DEFAULT_DOWNLINK_OPTIONS,
  DownlinkController,
  type DownlinkControllerOptions,
  type DownlinkSample,
} from '../../../workers/media/downlink-controller';
import { DownlinkStatsReader, type RawStat } from '../../../workers/media/downlink-stats';

/** A link that carries `kbps`, filled by the sender (busy picture): estimate ≈ what is sent. */
function link(kbps: number, extra: Partial<DownlinkSample> = {}): DownlinkSample {
  return {
    estimateKbps: kbps,
    sentKbps: kbps * 0.9,
    fractionLost: 0,
    rttMs: 20,
    nackPerSec: 0,
    pliPerSec: 0,
    bandwidthLimited: false,
    sentFps: 15,
    expectedFps: 15,
    ...extra,
  };
}

interface Run {
  c: DownlinkController;
  t: number;
  served: DownlinkProfile[];
}

/** One window per second for `seconds`; records what is served after each window. */
function feed(
  r: Run,
  s: DownlinkSample,
  seconds: number,
  ceiling: DownlinkProfile = 'high',
): DownlinkProfile[] {
  const seen: DownlinkProfile[] = [];
  for (let i = 0; i < seconds; i++, r.t += 1000) {
    r.c.update(s, ceiling, r.t);
    seen.push(r.c.served(ceiling));
  }
  r.served.push(...seen);
  return seen;
}

function changes(seen: DownlinkProfile[]): DownlinkProfile[] {
  return seen.filter((p, i) => i === 0 || p !== seen[i - 1]);
}

function fresh(upMs = 15_000): Run {
  return { c: new DownlinkController({ ...DEFAULT_DOWNLINK_OPTIONS, upMs }), t: 0, served: [] };
}

describe('DownlinkController', () => {
  it('serves the ceiling on a link that carries it, and decides nothing during the warm-up', () => {
    const r = fresh();
    // The estimate ramps from libwebrtc's 300 kbps start: no step while it does.
    const warm = feed(r, link(300), 4);
    expect(new Set(warm)).toEqual(new Set(['high']));
    const seen = feed(r, link(3000), 60);
    expect(new Set(seen)).toEqual(new Set(['high']));
    expect(r.c.cap).toBeNull();
  });

  it('steps down one rung after ~3 s of shortfall, down to the rung the link carries, and stays there', () => {
    const r = fresh();
    feed(r, link(3000), 10);
    // 300 kbit/s: below what high and standard need, above low's.
    const need = DEFAULT_DOWNLINK_OPTIONS.needKbps;
    expect(need.standard).toBeGreaterThan(300);
    expect(need.low).toBeLessThan(300);
    // 14 s: before the first probe back up (15 s after the last step).
    const seen = feed(r, link(300), 14);
    expect(changes(seen)).toEqual(['high', 'standard', 'low']);
    const firstDown = seen.indexOf('standard');
    expect(firstDown).toBeGreaterThanOrEqual(2); // not on the first window of shortfall
    expect(firstDown).toBeLessThanOrEqual(4);
    expect(seen.indexOf('low') - firstDown).toBeGreaterThanOrEqual(3); // each rung judged anew
    expect(seen[seen.length - 1]).toBe('low');
  });

  it('goes to audio when even low does not fit, never below the floor', () => {
    const r = fresh();
    feed(r, link(3000), 10);
    const seen = feed(r, link(60), 20);
    expect(changes(seen)).toEqual(['high', 'standard', 'low', 'audio']);
    expect(r.c.cap).toBe('audio');
  });

  it('a still picture (sender far below the estimate) is no shortfall, however low the estimate', () => {
    const r = fresh();
    // libwebrtc caps its estimate at ~1.5x what is sent: 200 kbps estimate for 130 kbps sent.
    const seen = feed(r, link(200, { sentKbps: 130 }), 60);
    expect(new Set(seen)).toEqual(new Set(['high']));
    expect(r.c.lastVerdict).toBe('calm');
  });

  it('but an estimate below the need counts when the encoder says it is limited by bandwidth', () => {
    const r = fresh();
    feed(r, link(3000), 10);
    const seen = feed(r, link(600, { sentKbps: 100, bandwidthLimited: true }), 10);
    expect(seen[seen.length - 1]).toBe('standard');
    // At standard 600 kbps is enough: the link no longer limits (the room's backlog counts again).
    expect(r.c.lastVerdict).toBe('calm');
  });

  it('frames dropped for the link are a shortfall even when the estimate covers the need; dropped for CPU they are not', () => {
    const r = fresh();
    feed(r, link(3000), 10);
    feed(r, link(300), 10);
    expect(r.c.served('high')).toBe('low');
    // 150 kbit/s of busy pictures: the estimate covers low's need, but 4 of 15 fps get through.
    expect(DEFAULT_DOWNLINK_OPTIONS.needKbps.low).toBeLessThan(140);
    const seen = feed(r, link(140, { sentFps: 4 }), 6);
    expect(seen[seen.length - 1]).toBe('audio');
    // An encoder starved of CPU (far below the estimate, not limited by bandwidth) is the
    // worker's problem (room shedding), not the link's.
    const cpu = fresh();
    const still = feed(cpu, link(3000, { sentKbps: 400, sentFps: 4 }), 30);
    expect(new Set(still)).toEqual(new Set(['high']));
    // Nor is a busy picture that the profile's own ceiling makes drop frames on a wide link
    // (libwebrtc says `bandwidth` then too, and the application-limited estimate is ~1.5x sent).
    const capped = fresh();
    const kept = feed(
      capped,
      link(900, { sentKbps: 600, sentFps: 6, bandwidthLimited: true }),
      30,
      'standard',
    );
    expect(new Set(kept)).toEqual(new Set(['standard']));
  });

  it('a failed probe is taken back after 2 s of shortfall, not 3', () => {
    const r = fresh();
    feed(r, link(3000), 10);
    feed(r, link(300), 10);
    const probe = feed(r, link(300), 25);
    const up = probe.indexOf('standard');
    expect(up).toBeGreaterThan(0);
    expect(probe.lastIndexOf('standard') - up + 1).toBeLessThanOrEqual(3);
  });

  it('sustained loss is a shortfall whatever the estimate; a single lossy window is not', () => {
    const r = fresh();
    feed(r, link(3000), 10);
    const blips: DownlinkProfile[] = [];
    for (let i = 0; i < 10; i++) {
      blips.push(...feed(r, link(3000, { fractionLost: 0.2 }), 1));
      blips.push(...feed(r, link(3000), 2));
    }
    expect(new Set(blips)).toEqual(new Set(['high']));
    const lossy = feed(r, link(3000, { fractionLost: 0.15 }), 5);
    expect(lossy[lossy.length - 1]).toBe('standard');
  });

  it('steps back up after ~15 s of headroom, at once per rung when the estimate vouches for the next one', () => {
    const r = fresh();
    feed(r, link(3000), 10);
    const down = feed(r, link(300), 10);
    expect(down[down.length - 1]).toBe('low');
    const lowAt = down.indexOf('low');
    const seen = feed(r, link(3000), 40);
    expect(changes(seen)).toEqual(['low', 'standard', 'high']);
    // Hysteresis: the first step up comes 15 s after the step down (calm since), not before;
    // the next one 15 s after that.
    const up1 = down.length + seen.indexOf('standard');
    expect(up1 - lowAt).toBeGreaterThanOrEqual(14);
    expect(up1 - lowAt).toBeLessThanOrEqual(16);
    expect(seen.indexOf('high') - seen.indexOf('standard')).toBeGreaterThanOrEqual(14);
    expect(seen.indexOf('high') - seen.indexOf('standard')).toBeLessThanOrEqual(16);
    expect(r.c.cap).toBeNull();
  });

  it('probes up when the estimate cannot vouch (application-limited), and backs off after a failed probe', () => {
    const r = fresh();
    feed(r, link(3000), 10);
    feed(r, link(300), 10);
    expect(r.c.served('high')).toBe('low');
    // The link stays at 300: the probe to standard fails (shortfall) and is taken back.
    const first = feed(r, link(300), 20);
    expect(changes(first)).toEqual(['low', 'standard', 'low']);
    expect(r.c.probeWaitMs).toBe(30_000);
    const backAt = first.lastIndexOf('standard') + 1;
    // The next probe waits twice as long: 30 s after the failed one was taken back.
    const second = feed(r, link(300), 25);
    expect(new Set(second)).toEqual(new Set(['low']));
    const third = feed(r, link(300), 15);
    const probe2 = first.length + second.length + third.indexOf('standard');
    expect(probe2 - backAt).toBeGreaterThanOrEqual(29);
    expect(probe2 - backAt).toBeLessThanOrEqual(32);
    expect(r.c.probeWaitMs).toBe(60_000);
  });

  it('a step up on a freed link is not taken back while the estimate climbs behind the new stream', () => {
    const r = fresh();
    feed(r, link(3000), 10);
    feed(r, link(300), 10, 'standard');
    expect(r.c.served('standard')).toBe('low');
    // Freed, but low sends ~160 kbps: the estimate (≈ 1.5× sent) cannot vouch; a probe after 15 s.
    const wait = feed(r, link(240, { sentKbps: 160 }), 16, 'standard');
    expect(wait[wait.length - 1]).toBe('standard');
    // The estimate ramps 240 → 600 over the next seconds, the sender filling it: below the need
    // of standard (370) for 2 s, but climbing: kept.
    const ramp = [250, 290, 340, 400, 470, 560, 600, 600].flatMap((kbps) =>
      feed(r, link(kbps), 1, 'standard'),
    );
    expect(new Set(ramp)).toEqual(new Set(['standard']));
    // On a link that stays narrow the same probe is taken back: the estimate stays flat.
    const n = fresh();
    feed(n, link(3000), 10);
    feed(n, link(300), 10, 'standard');
    feed(n, link(240, { sentKbps: 160 }), 16, 'standard');
    expect(n.c.served('standard')).toBe('standard');
    const flat = feed(n, link(260), 4, 'standard');
    expect(flat[flat.length - 1]).toBe('low');
  });

  it('from audio, a freed link is found by probing (audio alone never vouches for low)', () => {
    const r = fresh();
    feed(r, link(3000), 10);
    feed(r, link(60), 20);
    expect(r.c.served('high')).toBe('audio');
    // Audio only sends ~40 kbps, so the estimate stays low even on a wide link.
    const seen = feed(r, link(3000, { estimateKbps: 70, sentKbps: 40 }), 20);
    expect(changes(seen).slice(0, 2)).toEqual(['audio', 'low']);
  });

  it('from audio, probes recur every 10 s without backing off, so a freed link is back to standard within 30 s', () => {
    const r = fresh();
    feed(r, link(3000), 10);
    feed(r, link(60), 20);
    expect(r.c.served('standard')).toBe('audio');
    // A narrow link: each probe to low fails (loss) and is taken back; the probes do not spread out.
    const audioOnly = { estimateKbps: 70, sentKbps: 40 };
    const probes: number[] = [];
    for (let i = 0; i < 60; i++) {
      const onLow = r.c.served('standard') === 'low';
      const [now] = feed(r, link(150, onLow ? { fractionLost: 0.2 } : audioOnly), 1, 'standard');
      if (now === 'low' && !onLow) probes.push(i);
    }
    expect(probes.length).toBeGreaterThanOrEqual(4);
    for (let k = 1; k < probes.length; k++) expect(probes[k] - probes[k - 1]).toBeLessThanOrEqual(14);
    // Just after a failed probe the link frees: low within 10 s, standard (probed from low) 15 s later.
    while (r.c.served('standard') !== 'audio') feed(r, link(150, { fractionLost: 0.2 }), 1, 'standard');
    const freed = feed(r, link(3000, audioOnly), 11, 'standard');
    expect(freed[freed.length - 1]).toBe('low');
    // On low the picture is small: the estimate (about 1.5x what is sent) cannot vouch for standard.
    const after = feed(r, link(3000, { estimateKbps: 250, sentKbps: 160 }), 17, 'standard');
    expect(after.indexOf('standard') + freed.indexOf('low') + 1).toBeLessThanOrEqual(28);
  });

  it('the served profile is the lower of the ceiling and the cap: a lower ceiling wins, a higher one is not served past the cap', () => {
    const r = fresh();
    feed(r, link(3000), 10);
    feed(r, link(300), 20);
    expect(r.c.served('high')).toBe('low');
    expect(r.c.served('standard')).toBe('low');
    expect(r.c.served('audio')).toBe('audio');
    // Serving a lower ceiling than the cap (the client asked for less): calm there clears the cap.
    const r2 = fresh();
    feed(r2, link(3000), 10);
    feed(r2, link(500), 10);
    expect(r2.c.served('high')).toBe('standard');
    feed(r2, link(500), 3, 'low');
    expect(r2.c.cap).toBeNull();
  });

  it('reset forgets the cap (a new request is served as asked, then judged again)', () => {
    const r = fresh();
    feed(r, link(3000), 10);
    feed(r, link(300), 20);
    r.c.reset();
    expect(r.c.served('high')).toBe('high');
    expect(r.c.probeWaitMs).toBe(15_000);
  });
});

describe('DownlinkController for a shared stream (receiver-side estimate, RTP-level members)', () => {
  const shared = (extra: Partial<DownlinkControllerOptions> = {}): Run => ({
    c: new DownlinkController({ ...DEFAULT_DOWNLINK_OPTIONS, receiverEstimate: true, ...extra }),
    t: 0,
    served: [],
  });
  /** A shared `standard` stream settled on a wide link (10 clean windows). */
  const settled = (extra: Partial<DownlinkControllerOptions> = {}): Run => {
    const r = shared(extra);
    feed(r, rx(590, 1000), 10, 'standard');
    return r;
  };
  /** A shared stream at the profile's rate `sent`: REMB at `remb`, loss as given. */
  const rx = (sent: number, remb: number, fractionLost = 0): DownlinkSample =>
    link(remb, { sentKbps: sent, fractionLost, sentFps: 8, expectedFps: 15 });

  it('a REMB trailing the stream on a clean link is no shortfall, nor are frames the shared encoder dropped', () => {
    const r = shared();
    // standard at ~590 kbps, REMB still ramping from 240, no loss, 8 of 15 fps sent.
    const seen = feed(r, rx(590, 240), 30, 'standard');
    expect(new Set(seen)).toEqual(new Set(['standard']));
  });

  it('a link that cannot carry the stream (loss, REMB below the need) steps down; heavy loss alone does too', () => {
    const r = shared();
    feed(r, rx(590, 800), 10, 'standard');
    // REMB 320: below standard's need (352), no collapse (not under half of the 590 sent).
    const narrow = feed(r, rx(590, 320, 0.05), 4, 'standard');
    expect(narrow).toEqual(['standard', 'standard', 'standard', 'low']);
    // On low (160 sent) the REMB covers the stream: the loss left is no shortfall.
    expect(new Set(feed(r, rx(160, 320, 0.05), 6, 'standard'))).toEqual(new Set(['low']));
    const r2 = shared();
    feed(r2, rx(590, 800), 10, 'standard');
    const lossy = feed(r2, rx(590, 800, 0.3), 6, 'standard');
    expect(lossy[lossy.length - 1]).toBe('low');
  });

  /**
   * Windows measured on a 300 kbit/s link (bench shared-300, per-window log): [sent, REMB, lost,
   * NACK/s]. The NACK rates are half the logged ones: each NACK was counted twice then
   * (RtpMediaLine.isRepeatedRtcp).
   */
  const measured = (rows: [number, number, number, number][]): DownlinkSample[] =>
    rows.map(([sent, remb, lost, nack]) => ({ ...rx(sent, remb, lost), nackPerSec: nack }));
  /** Feeds the windows one a second; what was served after each. */
  const replay = (r: Run, rows: [number, number, number, number][]): DownlinkProfile[] =>
    measured(rows).map((w) => feed(r, w, 1, 'standard')[0]);

  /** The drop to 300 kbit/s as measured: REMB falls at once, the client NACKs, its reports still say 0 lost. */
  const drop: [number, number, number, number][] = [
    [521, 216, 0, 11.5],
    [564, 195, 0, 33],
    [724, 193, 0.043, 37],
    [604, 193, 0.95, 34],
    [589, 193, 0.043, 23],
    [531, 193, 0.8, 33],
  ];

  it('NACKs count as loss before the receiver reports do: the narrowing is met ~2 s sooner', () => {
    // Without the collapse rule (below), on the NACKs alone.
    const seen = replay(settled({ collapseDownMs: Infinity }), drop);
    // Shortfall from the first window, a step after 3 s of it: the 4th window (was the 6th).
    expect(seen.indexOf('low')).toBe(3);
  });

  it('a collapse (REMB under half of what is sent, with NACKs) steps down after two windows, not four', () => {
    expect(replay(settled(), drop).indexOf('low')).toBe(1);
    // One collapsed window then a milder shortfall: the ordinary 3 s rule.
    const seen = replay(settled(), [
      [560, 200, 0, 20],
      [560, 340, 0, 20],
      [560, 340, 0, 20],
      [560, 340, 0, 20],
    ]);
    expect(seen.indexOf('low')).toBe(3);
    // Neither random loss under a wide REMB nor a REMB trailing a clean stream is a collapse.
    const r3 = settled();
    expect(new Set(feed(r3, { ...rx(590, 900, 0.05), nackPerSec: 30 }, 5, 'standard'))).toEqual(
      new Set(['standard']),
    );
    expect(new Set(feed(r3, rx(590, 200), 5, 'standard'))).toEqual(new Set(['standard']));
    // `low` (160) on a 150 kbit/s link: REMB ~120 is no collapse; its step to audio waits 3 s.
    const r4 = settled();
    expect(replay(r4, drop.slice(0, 2))).toEqual(['standard', 'low']);
    feed(r4, rx(160, 250), 3, 'standard');
    // (The link's queue full: RTT 250 ms.)
    const onNarrower = feed(r4, { ...rx(160, 120, 0.15), nackPerSec: 6, rttMs: 250 }, 4, 'standard');
    expect(onNarrower.indexOf('audio')).toBe(3);
  });

  it('durations are whole windows: windows a millisecond early decide at the same window as on time', () => {
    // The logged collapse: its second window came 999 ms after the first and waited for a third.
    const r = settled();
    const early = measured(drop).map((w) => {
      r.t -= 1; // each window 999 ms after the one before
      return feed(r, w, 1, 'standard')[0];
    });
    expect(early.indexOf('low')).toBe(1);
    // And a hold of calm windows is reached at the same count.
    const onTime = settled();
    const late = settled();
    feed(onTime, { ...rx(590, 250, 0.4), nackPerSec: 30 }, 2, 'standard');
    feed(late, { ...rx(590, 250, 0.4), nackPerSec: 30 }, 2, 'standard');
    const count = (run: Run, jitter: number) => {
      for (let i = 1; i <= 30; i++) {
        run.t += jitter;
        feed(run, rx(160, 1000), 1, 'standard');
        if (run.c.served('standard') === 'standard') return i;
      }
      return -1;
    };
    expect(onTime.c.served('standard')).toBe('low');
    const n = count(onTime, 0);
    expect(n).toBeGreaterThan(0);
    expect(count(late, -1)).toBe(n);
  });

  it('a failed probe is taken back on the NACKs even while the reports flip between 0 and 94 % lost', () => {
    const r = shared();
    feed(r, rx(590, 1000), 10, 'standard');
    feed(r, rx(590, 200, 0.4), 2, 'standard'); // narrow (a collapse): down to low in two windows
    expect(r.c.served('standard')).toBe('low');
    const probed = feed(r, rx(160, 150), 20, 'standard'); // a probe after 15 s calm
    expect(probed[probed.length - 1]).toBe('standard');
    const seen = replay(r, [
      [603, 153, 0, 9],
      [523, 153, 0, 29],
      [577, 153, 0.94, 34],
      [694, 153, 0, 28],
      [573, 153, 0.078, 39],
      [585, 153, 0.078, 27],
    ]);
    // A collapse from the first window (REMB a quarter of what is sent): back on low at the 2nd
    // (the 3rd on the NACKs alone, the 8th before them).
    expect(seen.indexOf('low')).toBe(1);
  });

  it('a few NACKs on a link whose REMB covers the stream (5 % random loss) are no shortfall, and no headroom either', () => {
    const r = shared();
    const seen = feed(r, { ...rx(590, 900, 0.05), nackPerSec: 5 }, 30, 'standard');
    expect(new Set(seen)).toEqual(new Set(['standard']));
    // Many NACKs with a REMB above the need: not judged down (REMB says the rate fits), not calm.
    expect(r.c.verdict({ ...rx(590, 900), nackPerSec: 40 }, 'standard')).toBe('neutral');
  });

  it('serving video, it judges loss by the video reports: a late audio report of the seconds before a step is not a shortfall', () => {
    const r = shared();
    feed(r, rx(590, 1000), 10, 'standard');
    feed(r, rx(590, 190, 0.3), 2, 'standard'); // narrow (a collapse): down to low in two windows
    expect(r.c.served('standard')).toBe('low');
    // On low: the audio report (every ~5 s) still says 11 % lost, the video reports and NACKs are clean.
    const stale = { ...rx(160, 140, 0.11), videoFractionLost: 0 };
    expect(new Set(feed(r, stale, 6, 'standard'))).toEqual(new Set(['low']));
    // The same loss in the video reports, the REMB below what is sent and the link queueing
    // (RTT 250 ms), is the link: down to audio.
    const real = { ...rx(160, 140, 0.11), videoFractionLost: 0.11, rttMs: 250 };
    expect(feed(r, real, 6, 'standard')).toContain('audio');
    // On audio only audio is sent: its reports are judged (the worst of all).
    expect(r.c.verdict({ ...rx(40, 190, 0.2), videoFractionLost: 0 }, 'audio')).toBe('shortfall');
  });

  it('random loss on a wide link: the odd report of 10 % or more between lossy windows is no sustained loss', () => {
    const r = shared();
    feed(r, rx(590, 1000), 10, 'standard');
    // 5 % random loss: most reports 3-8 %, one in three 14 % (as measured), REMB well above the need.
    const seen: DownlinkProfile[] = [];
    for (let i = 0; i < 60; i++)
      seen.push(...feed(r, { ...rx(590, 1000, i % 3 === 0 ? 0.14 : 0.05), nackPerSec: 6 }, 1, 'standard'));
    expect(new Set(seen)).toEqual(new Set(['standard']));
    // Sustained 10-20 % under a REMB that covers the stream is random loss too (RTX carries it;
    // a lower profile would not lower it); 20 % or more in every window steps down.
    expect(new Set(feed(r, rx(590, 1000, 0.14), 10, 'standard'))).toEqual(new Set(['standard']));
    expect(feed(r, rx(590, 1000, 0.25), 5, 'standard')).toContain('low');
  });

  it('a link just under the served step (low on 150 kbit/s): REMB above the need but below what is sent, with loss, steps down', () => {
    const r = shared();
    feed(r, rx(590, 1000), 10, 'standard');
    feed(r, rx(590, 200, 0.4), 2, 'standard'); // a collapse: low in two windows
    expect(r.c.served('standard')).toBe('low');
    // The client's REMB settles near 0.85 of what arrives: 127, above low's need (112), below the
    // 160 sent; 5 % lost, a few NACKs, and the link's queue full (RTT 250 ms over a 20 ms base).
    // Read as random loss, low would stand with nothing shown.
    const full = { ...rx(160, 127, 0.05), nackPerSec: 3, rttMs: 250 };
    const seen = feed(r, full, 4, 'standard');
    expect(seen[seen.length - 1]).toBe('audio');
    // The same REMB with no loss is a REMB trailing a clean stream: it stays.
    const r2 = shared();
    feed(r2, rx(590, 1000), 10, 'standard');
    feed(r2, rx(590, 200, 0.4), 2, 'standard');
    expect(new Set(feed(r2, { ...rx(160, 127), rttMs: 250 }, 10, 'standard'))).toEqual(new Set(['low']));
  });

  it('a REMB dipping under the stream on a lossy wide link (no queue) is no shortfall', () => {
    const r = shared();
    feed(r, rx(590, 1000), 10, 'standard');
    // Measured: 5 % random loss on 3000 kbit/s, the REMB 1057 → 483-533 under ~600 sent for 4 s,
    // RTT 2-4 ms throughout.
    const dip = { ...rx(600, 483, 0.05), nackPerSec: 3, rttMs: 22 };
    expect(new Set(feed(r, dip, 6, 'standard'))).toEqual(new Set(['standard']));
    // The same with the link's queue filling (RTT 20 → 250 ms) is a full link.
    expect(feed(r, { ...dip, rttMs: 250 }, 4, 'standard')).toContain('low');
  });

  it('after a step up on a freed link, the REMB ramping up behind the new stream does not take it back', () => {
    const r = shared();
    feed(r, rx(590, 800), 10, 'standard');
    feed(r, rx(590, 250, 0.4), 2, 'standard'); // narrow (a collapse): down to low in two windows
    expect(r.c.served('standard')).toBe('low');
    // Freed: low's stream (160 kbps) keeps REMB near 240, below standard's need: a probe after 15 s.
    const up = feed(r, rx(160, 240), 20, 'standard');
    expect(up[up.length - 1]).toBe('standard');
    // On standard the REMB climbs a few per cent a second from 240; no loss: it stays.
    let remb = 240;
    const after: DownlinkProfile[] = [];
    for (let i = 0; i < 20; i++, remb *= 1.08) after.push(...feed(r, rx(590, remb), 1, 'standard'));
    expect(new Set(after)).toEqual(new Set(['standard']));
  });
});

describe('DownlinkController with padding probes (RTP-level members that can pad)', () => {
  const PROBE_MS = 3000;
  const padded = (): Run => ({
    c: new DownlinkController({
      ...DEFAULT_DOWNLINK_OPTIONS,
      receiverEstimate: true,
      paddingProbeMs: PROBE_MS,
    }),
    t: 0,
    served: [],
  });
  const rx = (sent: number, remb: number, fractionLost = 0, nackPerSec = 0): DownlinkSample =>
    link(remb, { sentKbps: sent, fractionLost, nackPerSec, sentFps: 15, expectedFps: 15 });
  /** Down to low on a narrow link, then calm on low until just before the first probe. */
  const onLow = (): Run => {
    const r = padded();
    feed(r, rx(590, 800), 10, 'standard');
    feed(r, rx(590, 250, 0.4), 2, 'standard'); // a collapse: low in two windows
    expect(r.c.served('standard')).toBe('low');
    return r;
  };
  const full = DEFAULT_DOWNLINK_OPTIONS.fullKbps;

  it('an unvouched step up is first a probe with padding up to the next rung; a probe that carries is stepped on', () => {
    const r = onLow();
    let probeAt = -1;
    for (let i = 0; i < 30 && probeAt < 0; i++) {
      feed(r, rx(160, 240), 1, 'standard');
      if (r.c.probe) probeAt = i;
    }
    expect(probeAt).toBeGreaterThan(10); // after the hold, not at once
    expect(r.c.probe).toEqual({ profile: 'standard', kbps: full.standard - full.low });
    expect(r.c.served('standard')).toBe('low'); // nothing switched yet
    // The link carries the padding: no loss, REMB still below standard's need.
    const during = feed(r, rx(590, 300), 3, 'standard');
    expect(during.slice(0, 2)).toEqual(['low', 'low']);
    expect(during[2]).toBe('standard');
    expect(r.c.probe).toBeNull();
  });

  it('a REMB that comes to vouch for the next rung during the probe takes the step at once', () => {
    const r = onLow();
    while (!r.c.probe) feed(r, rx(160, 240), 1, 'standard');
    const seen = feed(r, rx(590, DEFAULT_DOWNLINK_OPTIONS.needKbps.standard + 10), 1, 'standard');
    expect(seen).toEqual(['standard']);
  });

  it('a probe that loses (NACKs, loss, or the sender stopping it) takes no step; the next waits another hold of calm', () => {
    for (const failing of [rx(590, 240, 0, 40), rx(590, 240, 0.2), { ...rx(590, 240), probeAborted: true }]) {
      const r = onLow();
      let calm = 0;
      while (!r.c.probe) {
        feed(r, rx(160, 240), 1, 'standard');
        calm++;
      }
      expect(feed(r, failing, 1, 'standard')).toEqual(['low']);
      expect(r.c.probe).toBeNull();
      // Calm again on low, served low meanwhile.
      let next = 0;
      while (!r.c.probe && next < 100) {
        expect(feed(r, rx(160, 240), 1, 'standard')).toEqual(['low']);
        next++;
      }
      // Calm is counted afresh, with no backoff (a failed padding probe costs a moment of loss).
      expect(Math.abs(next - calm)).toBeLessThanOrEqual(1);
    }
  });

  it('a probe the ceiling no longer allows is dropped; reset drops it too', () => {
    const r = onLow();
    while (!r.c.probe) feed(r, rx(160, 240), 1, 'standard');
    feed(r, rx(590, 240), 1, 'low'); // the participant asked for low meanwhile
    expect(r.c.probe).toBeNull();
    const r2 = onLow();
    while (!r2.c.probe) feed(r2, rx(160, 240), 1, 'standard');
    r2.c.reset();
    expect(r2.c.probe).toBeNull();
  });

  it('from audio on a freed link, the step to low that held is followed by one probe for standard after 5 s, not 15', () => {
    const r = padded();
    feed(r, rx(590, 800), 10, 'standard');
    feed(r, rx(590, 100, 0.5), 12, 'standard');
    expect(r.c.served('standard')).toBe('audio');
    // The link frees: calm on audio, the floor probe (10 s of calm, 3 s of padding) steps to low.
    let t = 0;
    while (r.c.served('standard') === 'audio' && t < 30) {
      feed(r, rx(40, 60), 1, 'standard');
      t++;
    }
    expect(r.c.served('standard')).toBe('low');
    // On low, calm, the REMB still far below standard's need: a padding probe after 5 s.
    let onLow = 0;
    while (!r.c.probe && onLow < 30) {
      feed(r, rx(160, 200), 1, 'standard');
      onLow++;
    }
    expect(onLow).toBe(DEFAULT_DOWNLINK_OPTIONS.climbUpMs / 1000);
    const climbed = feed(r, rx(160, 200), 3, 'standard');
    expect(climbed[2]).toBe('standard');
    // From the link freeing: 10 + 3 + 5 + 3 s (was 10 + 3 + 15 + 3).
    expect(t + onLow + 3).toBeLessThanOrEqual(22);
  });

  it('a climbing probe that fails is not repeated before the ordinary hold', () => {
    const r = padded();
    feed(r, rx(590, 800), 10, 'standard');
    feed(r, rx(590, 100, 0.5), 12, 'standard');
    while (r.c.served('standard') === 'audio') feed(r, rx(40, 60), 1, 'standard');
    while (!r.c.probe) feed(r, rx(160, 200), 1, 'standard');
    expect(feed(r, rx(160, 200, 0, 40), 1, 'standard')).toEqual(['low']); // NACKs: it fails
    let next = 0;
    while (!r.c.probe && next < 60) {
      feed(r, rx(160, 200), 1, 'standard');
      next++;
    }
    expect(next).toBeGreaterThanOrEqual(DEFAULT_DOWNLINK_OPTIONS.upMs / 1000 - 1);
  });

  it("a probe its padding's reports have not yet covered waits for them; if they do not come it takes no step", () => {
    for (const covered of [true, false]) {
      const r = padded();
      feed(r, rx(590, 800), 10, 'standard');
      feed(r, rx(590, 100, 0.5), 12, 'standard');
      while (!r.c.probe) feed(r, rx(40, 60), 1, 'standard');
      // The probe's course (3 s) runs with its padding reported on, but not yet past its full rate.
      const pending = { ...rx(40, 60), probePending: true };
      expect(feed(r, pending, 3, 'standard')).toEqual(['audio', 'audio', 'audio']);
      expect(r.c.probe).not.toBeNull();
      if (covered) {
        // The next report covers it without loss: stepped on.
        expect(feed(r, rx(40, 60), 1, 'standard')).toEqual(['low']);
      } else {
        // Two more windows with nothing: given up, no step; the next probe after another hold.
        expect(feed(r, pending, 2, 'standard')).toEqual(['audio', 'audio']);
        expect(r.c.probe).toBeNull();
        expect(feed(r, rx(40, 60), 5, 'standard')).toEqual(['audio', 'audio', 'audio', 'audio', 'audio']);
      }
    }
  });

  it("a step to low the link carried as padding is not taken back on the collapsed REMB and the resumed stream's first reports", () => {
    const toLowOnPadding = (): Run => {
      const r = padded();
      feed(r, rx(590, 800), 10, 'standard');
      feed(r, rx(590, 100, 0.5), 12, 'standard');
      while (!r.c.probe) feed(r, rx(37, 15), 1, 'standard');
      // The padding's own reports covered it: no REMB to vouch (it stood at 19 kbit/s, as logged).
      const seen = feed(r, rx(37, 19), 4, 'standard');
      expect(seen[seen.length - 1]).toBe('low');
      return r;
    };
    // As logged on a freed link: the REMB at 20-22, 5 % and 3 % lost (the tail sent before
    // `audio`, counted once the stream resumed), 1 NACK a second.
    const freed = toLowOnPadding();
    const after = [
      feed(freed, { ...rx(144, 20, 0), videoFractionLost: 0.05, nackPerSec: 1 }, 1, 'standard')[0],
      feed(freed, { ...rx(154, 22, 0), videoFractionLost: 0.031, nackPerSec: 0 }, 1, 'standard')[0],
      ...feed(freed, rx(160, 25), 3, 'standard'),
    ];
    expect(after).toEqual(['low', 'low', 'low', 'low', 'low']);
    // A link that cannot carry it loses far more at once: back to audio.
    const narrow = toLowOnPadding();
    const back = feed(narrow, { ...rx(157, 66, 0), videoFractionLost: 0.86, nackPerSec: 32 }, 3, 'standard');
    expect(back).toContain('audio');
  });

  it("from audio, the probe pads up to low's rate", () => {
    const r = padded();
    feed(r, rx(590, 800), 10, 'standard');
    feed(r, rx(590, 100, 0.5), 12, 'standard');
    expect(r.c.served('standard')).toBe('audio');
    while (!r.c.probe) feed(r, rx(40, 60), 1, 'standard');
    expect(r.c.probe).toEqual({ profile: 'low', kbps: full.low - full.audio });
  });
});

describe('DownlinkStatsReader', () => {
  const report = (o: {
    bytes: number;
    nacks: number;
    plis: number;
    est: number;
    lost: number;
  }): RawStat[] => [
    { id: 'T', type: 'transport', selectedCandidatePairId: 'P2' },
    { id: 'P1', type: 'candidate-pair', state: 'succeeded', nominated: false, availableOutgoingBitrate: 9e6 },
    {
      id: 'P2',
      type: 'candidate-pair',
      state: 'succeeded',
      nominated: true,
      availableOutgoingBitrate: o.est,
    },
    {
      id: 'V',
      type: 'outbound-rtp',
      kind: 'video',
      bytesSent: o.bytes,
      headerBytesSent: 0,
      nackCount: o.nacks,
      pliCount: o.plis,
      qualityLimitationReason: 'bandwidth',
    },
    { id: 'A', type: 'outbound-rtp', kind: 'audio', bytesSent: 1000, headerBytesSent: 0 },
    { id: 'RV', type: 'remote-inbound-rtp', kind: 'video', fractionLost: o.lost, roundTripTime: 0.05 },
    { id: 'RA', type: 'remote-inbound-rtp', kind: 'audio', fractionLost: 0, roundTripTime: 0.04 },
  ];

  it('turns two reports into rates, reads the selected pair and the worst loss', () => {
    const rd = new DownlinkStatsReader();
    expect(rd.read(report({ bytes: 0, nacks: 0, plis: 0, est: 300_000, lost: 0 }), 1000)).toBeNull();
    const s = rd.read(report({ bytes: 62_500, nacks: 6, plis: 2, est: 280_000, lost: 0.25 }), 3000);
    expect(s).not.toBeNull();
    expect(s?.estimateKbps).toBe(280);
    expect(s?.sentKbps).toBeCloseTo(250, 5); // 62 500 bytes in 2 s
    expect(s?.nackPerSec).toBe(3);
    expect(s?.pliPerSec).toBe(1);
    expect(s?.fractionLost).toBe(0.25);
    expect(s?.videoFractionLost).toBe(0.25);
    expect(s?.rttMs).toBe(50);
    expect(s?.bandwidthLimited).toBe(true);
  });

  it("judges video loss over the last 3 s of the client's cumulative counts when it reports them, not one report's fraction", () => {
    const rd = new DownlinkStatsReader();
    // 5 % random loss: each report covers a handful of packets (libwebrtc sends one with every
    // NACK), so its fraction reads 50 %; the counts say 5 of 100 over the span.
    const at = (lost: number, seq: number, fraction: number): RawStat[] =>
      report({ bytes: 0, nacks: 0, plis: 0, est: 1e6, lost: fraction }).map((s) =>
        s.id === 'RV' ? { ...s, packetsLost: lost, extendedHighestSequence: seq } : s,
      );
    rd.read(at(0, 1000, 0), 0);
    expect(rd.read(at(2, 1040, 0.5), 1000)?.videoFractionLost).toBeCloseTo(2 / 40, 5);
    expect(rd.read(at(3, 1070, 0.5), 2000)?.videoFractionLost).toBeCloseTo(3 / 70, 5);
    expect(rd.read(at(5, 1100, 0.5), 3000)?.videoFractionLost).toBeCloseTo(5 / 100, 5);
    // The span moves on: the first window drops out.
    expect(rd.read(at(5, 1130, 0), 4000)?.videoFractionLost).toBeCloseTo(3 / 90, 5);
    // No new packet reported in the span: the report's own fraction.
    const quiet = new DownlinkStatsReader();
    quiet.read(at(0, 1000, 0), 0);
    expect(quiet.read(at(0, 1000, 0.25), 1000)?.videoFractionLost).toBe(0.25);
    // Counts that go back (a new stream) start the span again.
    expect(rd.read(at(0, 10, 0), 5000)?.videoFractionLost).toBe(0);
    expect(rd.read(at(1, 30, 0), 6000)?.videoFractionLost).toBeCloseTo(1 / 20, 5);
  });

  it('says when the sender stopped a padding probe in the window (its counter moved)', () => {
    const rd = new DownlinkStatsReader();
    const withAborts = (n: number): RawStat[] =>
      report({ bytes: 0, nacks: 0, plis: 0, est: 1e6, lost: 0 }).map((s) =>
        s.id === 'V' ? { ...s, paddingProbesAborted: n } : s,
      );
    rd.read(withAborts(0), 0);
    expect(rd.read(withAborts(0), 1000)?.probeAborted).toBe(false);
    expect(rd.read(withAborts(1), 2000)?.probeAborted).toBe(true);
    expect(rd.read(withAborts(1), 3000)?.probeAborted).toBe(false);
  });

  it('says when a padding probe waits for its own reports', () => {
    const rd = new DownlinkStatsReader();
    const pending = (p: boolean | undefined): RawStat[] =>
      report({ bytes: 0, nacks: 0, plis: 0, est: 1e6, lost: 0 }).map((s) =>
        s.id === 'V' ? { ...s, paddingProbePending: p } : s,
      );
    rd.read(pending(undefined), 0);
    expect(rd.read(pending(undefined), 1000)?.probePending).toBe(false);
    expect(rd.read(pending(true), 2000)?.probePending).toBe(true);
    expect(rd.read(pending(false), 3000)?.probePending).toBe(false);
  });

  it('counters that restart (a replaced stream) give no negative rate; a missing estimate is null', () => {
    const rd = new DownlinkStatsReader();
    rd.read(report({ bytes: 100_000, nacks: 5, plis: 5, est: 1e6, lost: 0 }), 0);
    const noPair = report({ bytes: 10, nacks: 0, plis: 0, est: 1e6, lost: 0 }).filter(
      (s) => s.type !== 'candidate-pair',
    );
    const s = rd.read(noPair, 1000);
    expect(s?.sentKbps).toBe(0);
    expect(s?.nackPerSec).toBe(0);
    expect(s?.estimateKbps).toBeNull();
  });
});
