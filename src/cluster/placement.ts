/**
 * Where a new room goes. Pure: the registry supplies the nodes, the caller the clock and the
 * random source, so the rule is unit-tested without Redis.
 *
 * Load of a node = the larger of its measured CPU load (process tree, fraction of its cores) and
 * its committed cost (participants' cost / capacity), plus a penalty for every room placed on it
 * in the last PENALTY_WINDOW_MS: a burst of first joins must not all land on the node that looked
 * emptiest a moment ago, before its stats catch up (Jitsi's jicofo adds a stress of 0.01 per
 * join for 20 s; a room is heavier than one join, hence a larger step). Among the eligible nodes
 * (active, media role, load below the limit) two are drawn at random and the lighter one wins:
 * "power of two choices" keeps the spread close to least-loaded without herding every control
 * node onto the same node.
 */
export interface PlacementCandidate {
  nodeId: string;
  /** Only media-capable, active (not draining) nodes may take a room. */
  accepting: boolean;
  /** Process-tree CPU load as a fraction of the node's cores (0..1+). */
  cpuLoad: number;
  /** Participant cost committed on the node / its capacity (0..1+). */
  committed: number;
}

export interface RecentPlacement {
  nodeId: string;
  at: number;
}

export const PLACEMENT_LOAD_LIMIT = 0.9;
export const PENALTY_PER_ROOM = 0.05;
export const PENALTY_WINDOW_MS = 20_000;

export function placementLoad(
  c: PlacementCandidate,
  recent: readonly RecentPlacement[],
  now: number,
): number {
  let penalty = 0;
  for (const r of recent) {
    if (r.nodeId !== c.nodeId) continue;
    const age = now - r.at;
    // Linear decay over the window: a placement weighs most right after it happened.
    if (age >= 0 && age < PENALTY_WINDOW_MS) penalty += PENALTY_PER_ROOM * (1 - age / PENALTY_WINDOW_MS);
  }
  return Math.max(c.cpuLoad, c.committed) + penalty;
}

/** The node for a new room, or null when no node can take one (→ server_busy). */
export function chooseNode(
  candidates: readonly PlacementCandidate[],
  recent: readonly RecentPlacement[],
  now: number,
  random: () => number = Math.random,
  limit = PLACEMENT_LOAD_LIMIT,
): string | null {
  const eligible = candidates
    .filter((c) => c.accepting)
    .map((c) => ({ id: c.nodeId, load: placementLoad(c, recent, now) }))
    .filter((c) => c.load < limit);
  if (eligible.length === 0) return null;
  if (eligible.length === 1) return eligible[0].id;
  const i = Math.floor(random() * eligible.length);
  let j = Math.floor(random() * (eligible.length - 1));
  if (j >= i) j++;
  const [a, b] = [eligible[i], eligible[j]];
  if (a.load !== b.load) return a.load < b.load ? a.id : b.id;
  return a.id < b.id ? a.id : b.id;
}
