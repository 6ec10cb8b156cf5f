import type { UplinkFigures, UplinkState } from '../protocol/media';
import type { RawStat } from './downlink-stats';

/**
 * A participant's uplink as the server receives it (issue #15 item 3, docs/adaptive-downlink.md):
 * the video it gets from the participant (rate, frame rate, size, loss), read from the same
 * getStats report as the downlink's figures. The client's own send-side estimate (TWCC/REMB
 * feedback from our libwebrtc) is what its browser adapts its encoder to; these figures tell it,
 * and the admin, what actually arrives, and `weak` tells the page to lower its camera.
 */

interface Counters {
  at: number;
  bytes: number;
  packets: number;
  lost: number;
  frames: number;
}

/** Turns successive stats reports into uplink figures over the time between them. */
export class UplinkStatsReader {
  private prev: Counters | null = null;

  /** `stats`: one getStats report; `now` (ms). Null for the first report or without inbound video. */
  read(stats: Iterable<RawStat>, now: number): UplinkFigures | null {
    let found = false;
    let bytes = 0;
    let packets = 0;
    let lost = 0;
    let frames = 0;
    let width = 0;
    let height = 0;
    for (const s of stats) {
      if (s.type !== 'inbound-rtp' || (s.kind ?? s.mediaType) !== 'video') continue;
      found = true;
      bytes += (s.bytesReceived ?? 0) + (s.headerBytesReceived ?? 0);
      packets += s.packetsReceived ?? 0;
      lost += s.packetsLost ?? 0;
      frames += s.framesDecoded ?? 0;
      width = Math.max(width, s.frameWidth ?? 0);
      height = Math.max(height, s.frameHeight ?? 0);
    }
    if (!found) return null;
    const prev = this.prev;
    this.prev = { at: now, bytes, packets, lost, frames };
    if (!prev || now <= prev.at) return null;
    const seconds = (now - prev.at) / 1000;
    // A replaced stream restarts its counters: no negative rate.
    const dPackets = Math.max(0, packets - prev.packets);
    const dLost = Math.max(0, lost - prev.lost);
    return {
      kbps: Math.round((Math.max(0, bytes - prev.bytes) * 8) / seconds / 100) / 10,
      fps: Math.round((Math.max(0, frames - prev.frames) / seconds) * 10) / 10,
      width,
      height,
      lossPct: dPackets + dLost > 0 ? Math.round((dLost / (dPackets + dLost)) * 1000) / 10 : 0,
    };
  }
}

export interface UplinkMonitorOptions {
  /** A window with at least this much loss (%) is weak. */
  weakLossPct: number;
  /** A window whose video arrives at fewer frames per second than this is weak. */
  weakFps: number;
  /** Weak windows in a row before the uplink is called weak. */
  weakWindows: number;
  /** Good windows in a row before a weak uplink is called good again. */
  goodWindows: number;
}

export const DEFAULT_UPLINK_OPTIONS: UplinkMonitorOptions = {
  weakLossPct: 5,
  // The composite runs at 15 fps for most tiles: below 8 the picture visibly stutters.
  weakFps: 8,
  weakWindows: 3,
  goodWindows: 10,
};

/**
 * good ↔ weak with hysteresis, one window (~1 s) at a time. A window in which no video arrives
 * at all (camera off, muted, not yet flowing) is not judged: a stopped camera is no weak link.
 */
export class UplinkMonitor {
  state: UplinkState = 'good';
  private weakRun = 0;
  private goodRun = 0;

  constructor(private readonly opts: UplinkMonitorOptions = DEFAULT_UPLINK_OPTIONS) {}

  /** Feeds one window; returns the new state when it changed. */
  update(f: UplinkFigures): UplinkState | null {
    if (f.kbps === 0 && f.fps === 0) return null;
    const weak = f.lossPct >= this.opts.weakLossPct || f.fps < this.opts.weakFps;
    if (weak) {
      this.weakRun++;
      this.goodRun = 0;
    } else {
      this.goodRun++;
      this.weakRun = 0;
    }
    if (this.state === 'good' && this.weakRun >= this.opts.weakWindows) this.state = 'weak';
    else if (this.state === 'weak' && this.goodRun >= this.opts.goodWindows) this.state = 'good';
    else return null;
    return this.state;
  }
}
