import {
  chooseNode,
  PENALTY_PER_ROOM,
  PENALTY_WINDOW_MS,
  placementLoad,
  type PlacementCandidate,
} from '../../../src/cluster/placement';

const node = (nodeId: string, load: number, accepting = true): PlacementCandidate => ({
  nodeId,
  accepting,
  cpuLoad: load,
  committed: 0,
});

/** A deterministic random source cycling through the given values. */
function seq(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

describe('room placement', () => {
  it('picks the lighter of the two drawn nodes', () => {
    const nodes = [node('a', 0.5), node('b', 0.2), node('c', 0.7)];
    // Draws a (0.0) and then b (0.34 of the remaining two): b is lighter.
    expect(chooseNode(nodes, [], 0, seq(0.0, 0.34))).toBe('b');
    // Draws c and a: a is lighter.
    expect(chooseNode(nodes, [], 0, seq(0.9, 0.0))).toBe('a');
  });

  it('never places on a draining node, a non-media node or one at the load limit; null means server_busy', () => {
    expect(chooseNode([node('a', 0.1, false), node('b', 0.95)], [], 0)).toBeNull();
    expect(chooseNode([node('a', 0.1, false), node('b', 0.3)], [], 0)).toBe('b');
    expect(chooseNode([], [], 0)).toBeNull();
  });

  it('counts committed participant cost when the CPU figure lags behind', () => {
    const busy: PlacementCandidate = { nodeId: 'a', accepting: true, cpuLoad: 0.05, committed: 0.8 };
    expect(placementLoad(busy, [], 0)).toBeCloseTo(0.8);
    expect(chooseNode([busy, node('b', 0.3)], [], 0, seq(0, 0))).toBe('b');
  });

  it('penalises recent placements, decaying over the window, so a burst spreads over the nodes', () => {
    const recent = [{ nodeId: 'a', at: 1000 }];
    expect(placementLoad(node('a', 0.2), recent, 1000)).toBeCloseTo(0.2 + PENALTY_PER_ROOM);
    expect(placementLoad(node('a', 0.2), recent, 1000 + PENALTY_WINDOW_MS / 2)).toBeCloseTo(
      0.2 + PENALTY_PER_ROOM / 2,
    );
    expect(placementLoad(node('a', 0.2), recent, 1000 + PENALTY_WINDOW_MS)).toBeCloseTo(0.2);

    // Ten rooms arriving at once on two idle nodes that report no load yet: they alternate.
    const nodes = [node('a', 0), node('b', 0)];
    const placed: { nodeId: string; at: number }[] = [];
    for (let i = 0; i < 10; i++) placed.push({ nodeId: chooseNode(nodes, placed, 0) as string, at: 0 });
    const onA = placed.filter((p) => p.nodeId === 'a').length;
    expect(onA).toBe(5);
  });
});
