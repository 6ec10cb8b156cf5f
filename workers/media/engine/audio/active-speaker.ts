/**
 * Picks who gets the big tile in the speaker layout. Switching on every loudness peak makes
 * the picture jump on coughs and keyboard clicks, so the decision has hysteresis:
 * - levels are smoothed (exponential, ~300 ms) before comparing who is loudest;
 * - a participant counts as "talking" while its raw level crossed the threshold within the
 *   last HANGOVER_MS, which bridges the gaps between syllables but not a lone click;
 * - a challenger must be talking and loudest continuously for switchAfterMs;
 * - the current speaker keeps the floor for at least holdMs after taking it.
 */
export interface ActiveSpeakerOptions {
  thresholdRms?: number;
  switchAfterMs?: number;
  holdMs?: number;
}

const SMOOTHING_MS = 300;
const HANGOVER_MS = 200;

interface SpeakerState {
  smoothed: number;
  lastAboveMs: number;
}

export class ActiveSpeakerDetector {
  private readonly threshold: number;
  private readonly switchAfterMs: number;
  private readonly holdMs: number;
  private readonly states = new Map<string, SpeakerState>();
  private speaker: string | null = null;
  private speakerSinceMs = 0;
  private candidate: string | null = null;
  private candidateSinceMs = 0;
  private lastUpdateMs: number | null = null;
  // Scratch for the forEach visitor, so update() does not allocate a closure per call.
  private nowMs = 0;
  private alpha = 0;
  private loudestId: string | null = null;
  private loudestLevel = 0;
  private readonly visit = (rms: number, id: string): void => this.observe(id, rms);

  constructor(opts: ActiveSpeakerOptions = {}) {
    this.threshold = opts.thresholdRms ?? 0.01;
    this.switchAfterMs = opts.switchAfterMs ?? 600;
    this.holdMs = opts.holdMs ?? 1500;
  }

  get current(): string | null {
    return this.speaker;
  }

  /**
   * Call every 10 ms with each participant's rms level (0..1) for that tick. Participants
   * absent from the map are left as they were. Returns the new speaker id when it changes,
   * else null.
   */
  update(levels: ReadonlyMap<string, number>, nowMs: number): string | null {
    const dt = this.lastUpdateMs === null ? 10 : Math.max(0, nowMs - this.lastUpdateMs);
    this.lastUpdateMs = nowMs;
    this.nowMs = nowMs;
    this.alpha = 1 - Math.exp(-dt / SMOOTHING_MS);
    this.loudestId = null;
    this.loudestLevel = -1;
    levels.forEach(this.visit);

    const loudest = this.loudestId;
    if (loudest === null || loudest === this.speaker) {
      this.candidate = null;
      return null;
    }
    if (loudest !== this.candidate) {
      this.candidate = loudest;
      this.candidateSinceMs = nowMs;
    }
    const heldEnough = this.speaker === null || nowMs - this.speakerSinceMs >= this.holdMs;
    if (nowMs - this.candidateSinceMs >= this.switchAfterMs && heldEnough) {
      this.speaker = loudest;
      this.speakerSinceMs = nowMs;
      this.candidate = null;
      return loudest;
    }
    return null;
  }

  remove(participantId: string): void {
    this.states.delete(participantId);
    if (this.candidate === participantId) this.candidate = null;
    if (this.speaker === participantId) this.speaker = null;
  }

  private observe(id: string, rms: number): void {
    let state = this.states.get(id);
    if (state === undefined) {
      state = { smoothed: 0, lastAboveMs: -Infinity };
      this.states.set(id, state);
    }
    state.smoothed += (rms - state.smoothed) * this.alpha;
    if (rms >= this.threshold) state.lastAboveMs = this.nowMs;
    const talking = this.nowMs - state.lastAboveMs <= HANGOVER_MS && state.smoothed >= this.threshold;
    if (talking && state.smoothed > this.loudestLevel) {
      this.loudestId = id;
      this.loudestLevel = state.smoothed;
    }
  }
}
