import { DOWNLINK_PROFILES, OUTPUT_PROFILES, type DownlinkProfile } from '../protocol/media';

/** One window (~1 s) of a participant's downlink as the server's side of its peer connection sees it. */
export interface DownlinkSample {
  /** availableOutgoingBitrate of the selected candidate pair (libwebrtc's send-side estimate), kbps. */
  estimateKbps: number | null;
  /** Everything the peer connection sent in the window (RTP payload and headers, all media), kbps. */
  sentKbps: number;
  /** Worst fractionLost (0..1) of the remote-inbound-rtp reports (the client's receiver reports). */
  fractionLost: number | null;
  /** fractionLost of the video stream's report alone (absent: not known apart). */
  videoFractionLost?: number | null;
  rttMs: number | null;
  /** NACKs and PLIs the client sent per second in the window (logged with every step). */
  nackPerSec: number;
  pliPerSec: number;
  /** libwebrtc's video encoder reports `qualityLimitationReason: 'bandwidth'`. */
  bandwidthLimited: boolean;
  /** Video frames sent per second in the window. */
  sentFps: number;
  /** The rate the served composite is handed to the encoder at (null: no video served). */
  expectedFps: number | null;
  /** The sender stopped a padding probe in the window: media sent during it was lost. */
  probeAborted?: boolean;
  /**
   * The remote reports on the probe's padding but not yet past its full rate: the probe cannot
   * be judged yet (absent or false: no such reports, or they covered it).
   */
  probePending?: boolean;
}

export interface DownlinkControllerOptions {
  /**
   * The link estimate each step needs to look right (kbps, video and audio): well below the
   * profile's ceiling (maxVideoKbps, congestion control adapts below it) but above the point
   * where libwebrtc starts dropping frames of that size. `audio` needs nothing: it is the floor.
   */
  needKbps: Readonly<Record<DownlinkProfile, number>>;
  /** What each step sends at most (its video ceiling and audio), kbps. */
  fullKbps: Readonly<Record<DownlinkProfile, number>>;
  /** The lowest step adaptation goes to. */
  floor: DownlinkProfile;
  /** Shortfall for this long (consecutive windows, none calm) before a step down. */
  downMs: number;
  /** Shortfall for this long takes back a step up made less than upMs ago (a failed probe). */
  probeDownMs: number;
  /** Headroom for this long before a step up (and at least this long after any step). */
  upMs: number;
  /**
   * A step up that the estimate does not vouch for is a probe; a probe taken back within upMs
   * doubles the wait before the next one, up to this factor.
   */
  maxBackoff: number;
  /**
   * From the floor (`audio`: only Opus is sent, so the estimate can never vouch for video) a
   * probe every this long, with no backoff: a failed one costs a second or two of the smallest
   * video, while a backed-off wait found a freed link only 30 s later (measured: back to
   * `standard` 46.6 s after a 150 kbit/s link freed; the issue asks for 30 s).
   */
  floorProbeMs: number;
  /**
   * With padding probes: after a step up that held calm this long, the next rung is probed
   * (once) without waiting upMs; see update.
   */
  climbUpMs: number;
  /** No decision for this long after the first window: the estimate ramps up from 300 kbps. */
  warmupMs: number;
  /** Sustained loss at or above this is a shortfall whatever the estimate says (shared streams: lossShortfallCovered). */
  lossShortfall: number;
  /**
   * With receiverEstimate: sustained loss at or above this is a shortfall even while the REMB
   * covers what is sent. Below lossShortfall's double it is random loss on a wide link (nothing a
   * lower profile fixes: NACK/RTX carries it); a link that the stream overfills queues first, and
   * the client's delay-based REMB then falls below what is sent (the rule in verdict).
   */
  lossShortfallCovered: number;
  /**
   * With receiverEstimate: a round trip this far above the lowest seen on the member's path says
   * its link queues (the bottleneck's buffer fills). Loss under a REMB that is below what is sent
   * but above the need counts as a full link only then: the REMB also dips under the stream on a
   * wide link (a delay spike), and with random loss that read as a full one (measured: 5 % loss on
   * 3000 kbit/s, REMB 1057 → 483 under ~600 sent for 4 s, RTT 2 ms: a step down to `low`), while
   * the full links measured queue 230-300 ms (150 and 300 kbit/s).
   */
  queueDelayMs: number;
  /** Headroom needs loss at or below this. */
  lossCalm: number;
  /**
   * An estimate below the need counts only when the sender uses at least this fraction of it
   * (or the encoder says it is limited by bandwidth): libwebrtc caps its estimate at about 1.5×
   * what it actually sends, so a still picture that needs little keeps the estimate low on
   * any link, and that is not a shortfall.
   */
  busyFraction: number;
  /**
   * Frames sent below this fraction of the composite's rate, while the link is what limits
   * (the estimate below what the step would send at most, and the sender filling it), is a
   * shortfall even when the estimate covers the step's need: a busy picture needs more than
   * the need says, and libwebrtc then keeps the resolution and drops frames (the issue's
   * 640x360 at 11 fps). libwebrtc's own `bandwidth` limitation is no evidence here: it also
   * says so when the profile's ceiling (b=AS) is what limits a busy picture.
   */
  minFpsFraction: number;
  /**
   * The member is sent a shared stream at its profile's rate (RTP-level members, issue #17):
   * the estimate is the client's REMB, which trails what arrives (libwebrtc caps it near 1.5×
   * the incoming rate and raises it a few per cent a second), and the sender cannot fill or
   * follow it, so after a step up it reads low for seconds on any link. It then counts only
   * together with loss above lossCalm; sustained loss alone still counts; the frame-rate rule
   * does not apply (frames a shared encoder drops are its rate control, not this link).
   */
  receiverEstimate?: boolean;
  /**
   * With receiverEstimate: NACKs per second at or above this count as loss, as the fraction lost
   * above lossCalm does. The fraction comes from the client's last receiver report, which lags
   * and flips (measured on a 300 kbit/s link: 0, 0.94, 0, 0.08 in four windows of a failed
   * probe, while the client NACKed 18-78 packets a second from the first window on): the NACKs
   * say it a window or two earlier and do not fall back to 0 while the loss goes on.
   */
  nackShortfallPerSec: number;
  /**
   * Set for members whose sender can pad (RTP-level members, whose shared stream jumps to the
   * next profile's whole rate at once): a step up the estimate does not vouch for is first
   * tried with padding up to the next step's rate for this long, and taken only if the link
   * carried it (no loss, no NACK burst, the sender did not stop the probe; or the estimate came
   * to vouch for it). A failed padding probe costs a moment of loss on the stream being served,
   * recovered by retransmission, instead of seconds of the next stream's keyframe and frames
   * stuck in a queue they overflow (measured: a ~6 s freeze per failed probe on 300 kbit/s).
   */
  paddingProbeMs?: number;
  /**
   * With receiverEstimate: a shortfall window whose REMB is below this fraction of what was sent
   * is a collapse: the link carries well under half of the stream, every frame loses packets, and
   * nothing renders until the step down's keyframe (measured at 300 kbit/s under `standard`'s
   * ~550: REMB 193-216 against 520-720 sent, 12-37 NACKs a second, from the first window).
   * Random loss on a wide link keeps the REMB above what is sent, a REMB trailing a step up on a
   * clean link has no loss: neither is a collapse.
   */
  collapseFraction: number;
  /**
   * A collapse for this long steps down without waiting for downMs (two windows: one window
   * alone may be a burst of cross traffic). A shared stream cannot lower its rate for one
   * receiver (libwebrtc's per-peer encoder does at once), so each second of waiting is a second
   * of frozen picture: measured, the gap at a drop to 300 kbit/s was 2.9-5.1 s with downMs alone.
   */
  collapseDownMs: number;
}

/** How long past its course a probe waits for its padding's own reports (DownlinkSample.probePending). */
const PROBE_REPORT_GRACE_MS = 2000;

/** Audio (Opus mix-minus) and RTP/RTCP overhead on top of a profile's video. */
const AUDIO_KBPS = 40;

export const DEFAULT_DOWNLINK_OPTIONS: DownlinkControllerOptions = {
  needKbps: {
    audio: 0,
    // 60 % of the ceiling: the measurement saw `standard` at ~170 kbps freeze and drop to
    // 11 fps, `low` carry 15 fps in 300 kbit/s.
    low: Math.round(OUTPUT_PROFILES.low.maxVideoKbps * 0.6) + AUDIO_KBPS,
    standard: Math.round(OUTPUT_PROFILES.standard.maxVideoKbps * 0.6) + AUDIO_KBPS,
    high: Math.round(OUTPUT_PROFILES.high.maxVideoKbps * 0.6) + AUDIO_KBPS,
  },
  fullKbps: {
    audio: AUDIO_KBPS,
    low: OUTPUT_PROFILES.low.maxVideoKbps + AUDIO_KBPS,
    standard: OUTPUT_PROFILES.standard.maxVideoKbps + AUDIO_KBPS,
    high: OUTPUT_PROFILES.high.maxVideoKbps + AUDIO_KBPS,
  },
  floor: 'audio',
  downMs: 3000,
  probeDownMs: 2000,
  upMs: 15_000,
  maxBackoff: 4,
  floorProbeMs: 10_000,
  climbUpMs: 5000,
  warmupMs: 5000,
  lossShortfall: 0.1,
  lossShortfallCovered: 0.2,
  queueDelayMs: 80,
  lossCalm: 0.03,
  busyFraction: 0.7,
  minFpsFraction: 0.6,
  // NACK messages a second. Calibrated at 10 while each arrived twice (RtpMediaLine.isRepeatedRtcp):
  // the same rate of the client's own NACKs. 5 % random loss on a `standard` stream gives ~2-3
  // (3-5 when counted twice).
  nackShortfallPerSec: 5,
  collapseFraction: 0.5,
  collapseDownMs: 1000,
};

/** An estimate this far above the one at a step up is climbing: the probe is not judged yet. */
const RAMP_FACTOR = 1.25;

export type DownlinkStep = 'down' | 'up';
export type DownlinkVerdict = 'shortfall' | 'calm' | 'neutral';

/**
 * Decides how far below its ceiling (what it asked for, after the room's shedding) one
 * participant's downlink is served, from its link's figures, one window at a time. Pure (time
 * is an argument) and per participant. Steps down one rung after `downMs` of shortfall (estimate
 * below the served step's need while the sender is not application-limited, or sustained loss);
 * steps up one rung after `upMs` of headroom, at once when the estimate already covers the next
 * rung's need, otherwise as a probe whose failure (a step down within upMs) doubles the wait.
 */
export class DownlinkController {
  /** The rung adaptation limits the downlink to; null: no limit (the ceiling is served). */
  private capRung: number | null = null;
  private firstAt: number | null = null;
  private shortfallSince: number | null = null;
  /** The last step was up on a padding probe the link carried (not on the REMB's word). */
  private stepProbed = false;
  /** Since when every window was a collapse (collapseFraction; null: the last was not). */
  private collapseSince: number | null = null;
  private calmSince: number | null = null;
  private lastStepAt = Number.NEGATIVE_INFINITY;
  private lastStep: DownlinkStep | null = null;
  private backoff = 1;
  /** The estimate when the last step up was taken (kbps; null: none known). */
  private estimateAtStep: number | null = null;
  private readonly floorRung: number;
  /** A padding probe for the rung above the served one: since when (null: none running). */
  private probeSince: number | null = null;
  private probeRung = 0;
  /** The verdict of the last window fed to update (null before any). */
  lastVerdict: DownlinkVerdict | null = null;
  /** The lowest round trip seen on the member's path (ms): its base, without queueing. */
  private minRttMs = Number.POSITIVE_INFINITY;
  /** The climbing probe after the last step up was made (see update). */
  private climbTried = false;

  constructor(private readonly opts: DownlinkControllerOptions = DEFAULT_DOWNLINK_OPTIONS) {
    this.floorRung = rung(opts.floor);
  }

  /** Adaptation's limit, or null when the ceiling is served. */
  get cap(): DownlinkProfile | null {
    return this.capRung === null ? null : DOWNLINK_PROFILES[this.capRung];
  }

  /** The wait before a probing step up, after backing off from failed ones. */
  get probeWaitMs(): number {
    return this.opts.upMs * this.backoff;
  }

  /**
   * The padding probe running: the step it tries and the padding it asks for (kbps: what that
   * step sends at most over the one below, which is served while it runs; judgeProbe drops it
   * otherwise).
   */
  get probe(): { profile: DownlinkProfile; kbps: number } | null {
    if (this.probeSince === null) return null;
    const { fullKbps } = this.opts;
    const profile = DOWNLINK_PROFILES[this.probeRung];
    return { profile, kbps: fullKbps[profile] - fullKbps[DOWNLINK_PROFILES[this.probeRung - 1]] };
  }

  /** What is served under `ceiling` (the lower of the two). */
  served(ceiling: DownlinkProfile): DownlinkProfile {
    const c = rung(ceiling);
    return DOWNLINK_PROFILES[this.capRung === null ? c : Math.min(c, this.capRung)];
  }

  /** Forget everything (the participant asked for another profile, or unpinned). */
  reset(): void {
    this.capRung = null;
    this.firstAt = null;
    this.shortfallSince = null;
    this.collapseSince = null;
    this.calmSince = null;
    this.lastStepAt = Number.NEGATIVE_INFINITY;
    this.lastStep = null;
    this.backoff = 1;
    this.estimateAtStep = null;
    this.probeSince = null;
    this.climbTried = false;
    this.stepProbed = false;
  }

  /** How one window reads for a downlink serving `served`. */
  verdict(s: DownlinkSample, served: DownlinkProfile): DownlinkVerdict {
    const o = this.opts;
    const lost = this.lossOf(s, served);
    const need = o.needKbps[served];
    const est = s.estimateKbps;
    if (o.receiverEstimate) {
      const losing = lost > o.lossCalm || s.nackPerSec >= o.nackShortfallPerSec;
      // Losing while the REMB is below the need, or below what is sent while the link queues:
      // the link is full. The second matters where a link sits just under a step's rate (`low`,
      // ~160 kbps, on 150 kbit/s): the client's REMB settles near 0.85 of what arrives, above
      // `low`'s need, and the loss alone (3-10 %) would read as random loss on a wide link forever.
      const queued = s.rttMs !== null && s.rttMs - this.minRttMs >= o.queueDelayMs;
      if (est !== null && (est < need || (est < s.sentKbps && queued)) && losing) return 'shortfall';
      if (lost >= o.lossShortfallCovered) return 'shortfall';
      return losing ? 'neutral' : 'calm';
    }
    if (lost >= o.lossShortfall) return 'shortfall';
    const busy = est !== null && s.sentKbps >= o.busyFraction * est;
    if (est !== null && est < need && (busy || s.bandwidthLimited)) return 'shortfall';
    if (
      served !== 'audio' &&
      s.expectedFps !== null &&
      s.sentFps < o.minFpsFraction * s.expectedFps &&
      est !== null &&
      est < o.fullKbps[served] &&
      busy
    )
      return 'shortfall';
    return lost <= o.lossCalm ? 'calm' : 'neutral';
  }

  /**
   * The loss a window is judged on. For a shared stream (receiverEstimate) serving video, the
   * video stream's own report: a client reports its video every second but its audio every ~5 s
   * (libwebrtc's RTCP intervals), so an audio report arriving after a step down still describes
   * the seconds before it (measured: 11 % lost in an audio report 4 s after a step to `low`, no
   * NACK, the video reports clean, and the step it caused took the receiver to `audio` for 15 s).
   * On `audio` only audio is sent: its reports are all there is.
   */
  private lossOf(s: DownlinkSample, served: DownlinkProfile): number {
    if (this.opts.receiverEstimate && served !== 'audio' && s.videoFractionLost != null)
      return s.videoFractionLost;
    return s.fractionLost ?? 0;
  }

  /** Feeds one window observed at `now` (ms) under `ceiling`; returns the step taken, if any. */
  update(s: DownlinkSample, ceiling: DownlinkProfile, now: number): DownlinkStep | null {
    this.firstAt ??= now;
    if (s.rttMs !== null && s.rttMs > 0) this.minRttMs = Math.min(this.minRttMs, s.rttMs);
    const servedRung = rung(this.served(ceiling));
    let v = this.verdict(s, DOWNLINK_PROFILES[servedRung]);
    // Just after a step up the estimate trails the new stream (libwebrtc caps it near 1.5× what
    // was sent and raises it as more is sent): while it climbs well above where it stood at the
    // step, a shortfall it reads is the ramp, not the link (measured: a step up on a freed link
    // taken back 4 s later, made again 16 s after). A link that cannot carry the step holds the
    // estimate flat or pulls it down, and the probe is still taken back.
    const probing = this.lastStep === 'up' && held(now, this.lastStepAt) < this.opts.upMs;
    const mildLoss = this.lossOf(s, DOWNLINK_PROFILES[servedRung]) < this.opts.lossShortfall;
    if (
      v === 'shortfall' &&
      probing &&
      mildLoss &&
      this.estimateAtStep !== null &&
      s.estimateKbps !== null &&
      s.estimateKbps >= this.estimateAtStep * RAMP_FACTOR
    )
      v = 'neutral';
    // A step the link carried as padding is not taken back on the REMB and a little loss: after
    // `audio` the client's REMB is the one its collapse left (14-36 kbit/s on a freed link for
    // tens of seconds), and its first reports on the resumed stream count as lost the tail sent
    // before the step to `audio` (measured: 5 and 3 % in the first two windows of `low` on a
    // freed link took it back to `audio`, and recovery took 41 s). A link that cannot carry the
    // step loses far more at once (36-86 %, 8-32 NACKs a second at 150 kbit/s).
    if (
      v === 'shortfall' &&
      probing &&
      this.stepProbed &&
      mildLoss &&
      s.nackPerSec < this.opts.nackShortfallPerSec
    )
      v = 'neutral';
    this.lastVerdict = v;
    const collapse =
      v === 'shortfall' &&
      this.opts.receiverEstimate === true &&
      s.estimateKbps !== null &&
      s.estimateKbps < this.opts.collapseFraction * s.sentKbps;
    if (!collapse) this.collapseSince = null;
    else this.collapseSince ??= now;
    if (v === 'shortfall') {
      this.calmSince = null;
      this.shortfallSince ??= now;
    } else if (v === 'calm') {
      this.shortfallSince = null;
      this.calmSince ??= now;
    } else if (this.opts.receiverEstimate) {
      // Neutral for a shared stream is loss while the REMB covers the need: random loss on a
      // wide link. It ends a run of shortfall windows, or the odd window of a 5 % lossy link
      // whose report reads 10 % or more (measured: 14 %) would add up, across the neutral ones
      // between, to a step down (measured: `low` after 36 s on a 3000 kbit/s link with 5 % loss).
      this.shortfallSince = null;
    } // otherwise neutral: neither clock restarts nor advances a decision of its own
    if (held(now, this.firstAt) < this.opts.warmupMs) return null;
    if (this.probeSince !== null) return this.judgeProbe(s, v, servedRung, rung(ceiling), now);

    if (v === 'shortfall' && this.shortfallSince !== null) {
      const wait = probing ? this.opts.probeDownMs : this.opts.downMs;
      const collapsed =
        this.collapseSince !== null && held(now, this.collapseSince) >= this.opts.collapseDownMs;
      if (servedRung <= this.floorRung || (held(now, this.shortfallSince) < wait && !collapsed)) return null;
      if (probing) this.backoff = Math.min(this.opts.maxBackoff, this.backoff * 2); // the probe failed
      this.capRung = servedRung - 1;
      return this.step('down', now);
    }
    if (v !== 'calm' || this.calmSince === null) return null;
    // A step up that held for upMs proves the link: earlier failed probes are forgotten.
    if (this.lastStep === 'up' && held(now, this.lastStepAt) >= this.opts.upMs) this.backoff = 1;
    const ceilingRung = rung(ceiling);
    if (servedRung >= ceilingRung) {
      // The ceiling (a lower request, the room's shedding) is below the cap: the cap is moot.
      if (this.capRung !== null && this.capRung >= ceilingRung) this.capRung = null;
      return null;
    }
    const calmFor = held(now, this.calmSince);
    const sinceStep = held(now, this.lastStepAt);
    const atFloor = servedRung === this.floorRung;
    // Climbing: the last step was up and held calm, and the member can pad. Its first probe for
    // the next rung comes after climbUpMs, not upMs: a freed link is climbed back in two steps
    // from `audio`, and two full holds made recovery take 29 s (measured at 150 kbit/s; the
    // issue asks for 30), while a padding probe that fails costs a moment of loss. One such probe
    // per step: after it fails, the ordinary hold.
    const climbing = this.lastStep === 'up' && !this.climbTried && this.opts.paddingProbeMs !== undefined;
    const holdMs = atFloor
      ? Math.min(this.opts.upMs, this.opts.floorProbeMs)
      : climbing
        ? Math.min(this.opts.upMs, this.opts.climbUpMs)
        : this.opts.upMs;
    if (calmFor < holdMs || sinceStep < holdMs) return null;
    const next = servedRung + 1;
    const vouched = s.estimateKbps !== null && s.estimateKbps >= this.opts.needKbps[DOWNLINK_PROFILES[next]];
    const probeWait = atFloor || climbing ? holdMs : this.probeWaitMs;
    if (!vouched && (calmFor < probeWait || sinceStep < probeWait)) return null;
    if (!vouched && this.opts.paddingProbeMs !== undefined) {
      this.probeSince = now;
      this.probeRung = next;
      if (climbing) this.climbTried = true;
      return null;
    }
    return this.stepUp(next, ceilingRung, s, now);
  }

  /**
   * A window while padding probes the rung above: any loss (or the sender's own abort) fails it
   * and the next probe waits for another hold of calm windows; the step is taken when the
   * estimate vouches for it or the probe ran its course without loss.
   */
  private judgeProbe(
    s: DownlinkSample,
    v: DownlinkVerdict,
    servedRung: number,
    ceilingRung: number,
    now: number,
  ): DownlinkStep | null {
    const since = this.probeSince ?? now;
    const next = this.probeRung;
    if (next !== servedRung + 1 || next > ceilingRung) {
      // The ceiling moved (a new request, the room's shedding): the probe no longer applies.
      this.probeSince = null;
      return null;
    }
    if (s.probeAborted === true || v !== 'calm') {
      // No backoff: a failed padding probe costs well under a second of loss on the stream
      // served (measured: no gap of 500 ms), so waiting longer only delays finding a freed link
      // (measured: back to standard 27 s after the link freed with the backoff, the next probe
      // 30 s after a failed one).
      this.probeSince = null;
      this.calmSince = null;
      return null;
    }
    const vouched = s.estimateKbps !== null && s.estimateKbps >= this.opts.needKbps[DOWNLINK_PROFILES[next]];
    const probeMs = this.opts.paddingProbeMs ?? 0;
    if (!vouched && held(now, since) < probeMs) return null;
    if (!vouched && s.probePending === true) {
      // Its own reports have not yet covered the padding's full rate: wait for them a little
      // (the remote reports on it every 0.2-1 s), then count it failed rather than step blind.
      if (held(now, since) < probeMs + PROBE_REPORT_GRACE_MS) return null;
      this.probeSince = null;
      this.calmSince = null;
      return null;
    }
    this.probeSince = null;
    const step = this.stepUp(next, ceilingRung, s, now);
    this.stepProbed = !vouched;
    return step;
  }

  private stepUp(next: number, ceilingRung: number, s: DownlinkSample, now: number): DownlinkStep {
    this.capRung = next >= ceilingRung ? null : next;
    this.estimateAtStep = s.estimateKbps;
    return this.step('up', now);
  }

  private step(direction: DownlinkStep, now: number): DownlinkStep {
    this.stepProbed = false;
    this.lastStep = direction;
    this.lastStepAt = now;
    this.climbTried = false;
    // The new rung is judged on its own windows.
    this.shortfallSince = null;
    this.collapseSince = null;
    this.calmSince = direction === 'up' ? now : null;
    return direction;
  }
}

/**
 * How long something has held at window `now`, counted in whole windows: windows come ~1 s
 * apart from a timer and a stats read, a millisecond early or late, and a duration of 999 ms
 * after one window is that window (measured: a collapse held "999 ms" at its second window
 * and waited for a third, one second more of a frozen picture in about half of the runs).
 */
function held(now: number, since: number): number {
  return now - since + WINDOW_SLACK_MS;
}
const WINDOW_SLACK_MS = 250;

function rung(p: DownlinkProfile): number {
  return DOWNLINK_PROFILES.indexOf(p);
}
