import type { ParticipantRole, Profile } from '../../workers/protocol/media';
import type { ParticipantCosts } from '../config/config';

/** What a participant costs depends on what the node does for it. */
export interface ParticipantLoad {
  role: ParticipantRole;
  profile: Profile;
  /** No video either way: no decode, no composite encode. */
  audioOnly?: boolean;
}

/** A node's load as others read it (admission here, the cluster registry, /readyz). */
export interface NodeLoad {
  /** Standard participant units the node carries (NODE_CAPACITY). */
  capacity: number;
  /** Units taken by the participants in (and joins under way). */
  committed: number;
  /** CPU of the server's process tree as a fraction of the machine (0..1, all cores). */
  cpuLoad: number;
  /** Worst sustained p99 event-loop delay among the media workers (ms). */
  loopDelayMs: number;
  /** True when a new call would be refused now: a standard publisher opening a room. */
  full: boolean;
}

export interface AdmissionPolicy {
  capacity: number;
  /** Fraction of capacity and of the CPU beyond which joins are refused. */
  limit: number;
  maxLoopDelayMs: number;
}

export function costOf(costs: ParticipantCosts, p: ParticipantLoad): number {
  if (p.audioOnly) return costs.audioOnly;
  // An ingress costs what a publisher does: its stream is decoded into a tile and the mix (its
  // ffmpeg decode runs beside the worker instead of inside libwebrtc).
  return costs[p.role === 'ingress' ? 'publisher' : p.role][p.profile];
}

/**
 * Units a room's participants take together: each one's cost, plus one encode of each profile
 * its video receivers use (`costs.encode`, VIDEO_ENCODE=shared; 0 per peer). An ingress sends
 * into the room and receives nothing; an audio-only participant receives no video.
 */
export function roomUnits(costs: ParticipantCosts, members: Iterable<ParticipantLoad>): number {
  let units = 0;
  const encoded = new Set<Profile>();
  for (const p of members) {
    units += costOf(costs, p);
    if (!p.audioOnly && p.role !== 'ingress') encoded.add(p.profile);
  }
  for (const profile of encoded) units += costs.encode[profile];
  return units;
}

/**
 * Why a join of `cost` units would be refused, or null when it fits. The committed units decide
 * first (they are known before the load shows); measured CPU and worker lag refuse beyond the
 * model, when the real costs turned out higher than the table says.
 */
export function refusal(
  policy: AdmissionPolicy,
  state: Omit<NodeLoad, 'full' | 'capacity'>,
  cost: number,
): string | null {
  const limitUnits = policy.capacity * policy.limit;
  if (state.committed + cost > limitUnits + 1e-9)
    return `this server is at capacity (${round(state.committed)} of ${round(limitUnits)} units in use, the join needs ${round(cost)})`;
  if (state.cpuLoad >= policy.limit)
    return `this server's CPU is at ${Math.round(state.cpuLoad * 100)} % (limit ${Math.round(policy.limit * 100)} %)`;
  if (state.loopDelayMs >= policy.maxLoopDelayMs)
    return `this server's media workers are falling behind (${Math.round(state.loopDelayMs)} ms late)`;
  return null;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
