/**
 * Scenario names and the command line. A scenario key says what it runs:
 *   std-<N>        one room of N on the `standard` profile
 *   low-<N>        one room of N on the `low` profile
 *   rooms-<R>x<N>  R rooms of N each on `standard`
 *   rec-<N>        one room of N on `standard` with a recording running
 *   pin-<N>        one room of N on `standard`, server pinned to CPU 0 and the load generator
 *                  to the other CPUs (needs >= 2 cores): the server's capacity per core
 *   churn[-<K>]    one room of 4 on `standard` while a 5th joins, stays 3 s and leaves, K times
 *                  (default 5): gaps in the others' video and audio around joins and leaves
 *   audio-<N>      one room of N audio-only participants, all speaking (bench/audio-room.ts;
 *                  `npm run bench:audio` compares the stacks)
 *   h264-<N>       one room of N H.264-only WebRTC participants on `standard` (bench/h264-room.ts):
 *                  the RTP-level path and the shared encoder; compared with std-<N> of the same run
 *   egress         live egress and ingest, short form of `npm run bench:egress` (bench/egress.ts):
 *                  encode CPU per profile, a shared encode, HLS and player delays, RTMP and RTSP
 *                  ingest delays
 *   shared-N       1 room of N on `standard` with VIDEO_ENCODE=shared (one VP8 encode for all,
 *                  RTP-level stack; issue #17), beside std-N (VIDEO_ENCODE=per-peer: one libwebrtc
 *                  encode per peer); shared-low-N and shared-high-N on those profiles;
 *                  shared-churn[-<K>] is churn with VIDEO_ENCODE=shared (a late joiner's first frame)
 *   lean-<N>, lean-shared-<N>  one room of N on `standard`, per-peer / shared encode, served to
 *                  the lean load generator (bench/lean-room.ts: RTP-level VP8 clients, one uplink
 *                  encode for all): the server's capacity without the wrtc generator's cost
 * plus `baseline` (peer-to-peer latency), `capacity` (search on std-N), `capacity-shared` (the
 * same search on shared-N), `capacity-lean` (both searches on the lean generator; the ×2 figure),
 * `kernels` (micro-benchmark) and
 * `overload` (joins one by one up to twice the capacity, before/after admission control and
 * quality shedding; bench/overload.ts; not in the default run: it takes minutes) and
 * `adaptive-downlink` (one receiver's downlink shaped 3000 → 300/150 → 3000 kbit/s or losing
 * 1 %/5 % of its packets in a network namespace, adaptation off and on;
 * bench/adaptive-downlink.ts; root only, ~13 minutes; `--downlink-variants=on-loss1,...` picks some).
 */
import type { ScenarioSpec } from './scenario-spec';

export const DEFAULT_SCENARIOS = [
  'baseline',
  'std-2',
  'std-4',
  'std-8',
  'std-12',
  'std-16',
  'rooms-3x4',
  'low-8',
  'rec-4',
  'h264-4',
  // Short form: the full `churn` (5 cycles, ~27 s window) would push the default past 5 minutes.
  'churn-2',
  'capacity',
  'kernels',
  'audio-16',
  'egress',
];
export const QUICK_SCENARIOS = ['baseline', 'std-2', 'std-4', 'low-4', 'churn-2'];
/** Stable participants of the churn scenario: the room the issue talks about. */
const CHURN_STABLE = 4;
const CHURN_CYCLES = 5;

export interface CliOptions {
  keys: string[];
  warmupMs: number;
  measureMs: number;
  /** Extra runs the capacity search may add beyond the sweep. */
  capacityRuns: number;
  quick: boolean;
  /** Results file stem in bench/results/; only the full default run writes `latest`. */
  out: string;
  /** Optional work (capacity probes, kernels) is skipped when it would end past this. */
  budgetMs: number;
  /** The whole run is aborted (and cleaned up) after this long. */
  deadlineMs: number;
  /** The overload scenario: room counts of its curves and join attempts per curve. */
  overloadRooms: number[];
  overloadMax: number;
  /** The overload scenario's encode path (VIDEO_ENCODE of both curves; default the server's). */
  overloadEncode: 'per-peer' | 'shared';
  /** The adaptive-downlink scenario's variants by name (null: all). */
  downlinkVariants: string[] | null;
}

export function parseCli(argv: readonly string[]): CliOptions {
  const flags = new Map<string, string>();
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument "${a}" (see bench/README.md)`);
    flags.set(m[1], m[2] ?? 'true');
  }
  for (const k of flags.keys()) {
    if (
      ![
        'quick',
        'scenarios',
        'warmup',
        'measure',
        'capacity-runs',
        'out',
        'budget',
        'deadline',
        'overload-rooms',
        'overload-max',
        'overload-encode',
        'downlink-variants',
      ].includes(k)
    ) {
      throw new Error(`unknown option --${k}`);
    }
  }
  const quick = flags.get('quick') === 'true';
  const keys = flags.has('scenarios')
    ? String(flags.get('scenarios')).split(',').filter(Boolean)
    : quick
      ? QUICK_SCENARIOS
      : DEFAULT_SCENARIOS;
  for (const k of keys) if (!isKnown(k)) throw new Error(`unknown scenario "${k}"`);
  const seconds = (name: string, def: number): number => {
    const v = Number(flags.get(name) ?? def);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number of seconds`);
    return v * 1000;
  };
  const isDefault = !quick && !flags.has('scenarios') && !flags.has('warmup') && !flags.has('measure');
  return {
    keys,
    warmupMs: seconds('warmup', quick ? 3 : 5),
    measureMs: seconds('measure', quick ? 8 : 15),
    capacityRuns: Number(flags.get('capacity-runs') ?? (quick ? 0 : 2)),
    quick,
    out: flags.get('out') ?? (isDefault ? 'latest' : 'partial'),
    budgetMs: seconds('budget', quick ? 90 : 500),
    deadlineMs: seconds('deadline', quick ? 180 : 780),
    overloadRooms: String(flags.get('overload-rooms') ?? '1,3')
      .split(',')
      .map(Number)
      .filter((n) => Number.isInteger(n) && n >= 1 && n <= 8),
    overloadMax: Math.max(2, Math.min(40, Number(flags.get('overload-max') ?? 14) || 14)),
    overloadEncode: encodeFlag(flags.get('overload-encode')),
    downlinkVariants: flags.has('downlink-variants')
      ? String(flags.get('downlink-variants')).split(',').filter(Boolean)
      : null,
  };
}

function encodeFlag(v: string | undefined): CliOptions['overloadEncode'] {
  if (v === undefined || v === 'shared' || v === 'per-peer') return v ?? 'shared';
  throw new Error(`--overload-encode must be shared or per-peer, not "${v}"`);
}

function isKnown(key: string): boolean {
  return (
    [
      'baseline',
      'capacity',
      'capacity-shared',
      'capacity-lean',
      'kernels',
      'overload',
      'egress',
      'adaptive-downlink',
    ].includes(key) ||
    audioRoomSize(key) !== null ||
    specFor(key) !== null ||
    h264RoomSize(key) !== null ||
    leanRoomSpec(key) !== null
  );
}

/** N of an `audio-<N>` key (2..32), else null. */
export function audioRoomSize(key: string): number | null {
  const m = /^audio-(\d+)$/.exec(key);
  const n = m ? Number(m[1]) : NaN;
  return n >= 2 && n <= 32 ? n : null;
}

export type LeanEncode = 'per-peer' | 'shared';

/** `lean-<N>` (per-peer encode) or `lean-shared-<N>` (one shared encode), N 2..64; else null. */
export function leanRoomSpec(key: string): { encode: LeanEncode; n: number } | null {
  const m = /^lean-(shared-)?(\d+)$/.exec(key);
  if (!m) return null;
  const n = Number(m[2]);
  if (n < 2 || n > 64) return null;
  return { encode: m[1] ? 'shared' : 'per-peer', n };
}

/** N of an `h264-<N>` key (1..16), or null. */
export function h264RoomSize(key: string): number | null {
  const m = /^h264-(\d+)$/.exec(key);
  const n = m ? Number(m[1]) : 0;
  return n >= 1 && n <= 16 ? n : null;
}

export function specFor(key: string): ScenarioSpec | null {
  let m = /^std-(\d+)$/.exec(key);
  if (m) return spec(key, `1 room x ${m[1]}, standard`, 1, Number(m[1]), 'standard', false);
  m = /^shared-(?:(low|high)-)?(\d+)$/.exec(key);
  if (m) {
    const profile = (m[1] ?? 'standard') as ScenarioSpec['profile'];
    const title = `1 room x ${m[2]}, ${profile}, one shared VP8 encode`;
    const s = spec(key, title, 1, Number(m[2]), profile, false);
    return s && { ...s, sharedEncode: true };
  }
  m = /^low-(\d+)$/.exec(key);
  if (m) return spec(key, `1 room x ${m[1]}, low`, 1, Number(m[1]), 'low', false);
  m = /^rooms-(\d+)x(\d+)$/.exec(key);
  if (m) return spec(key, `${m[1]} rooms x ${m[2]}, standard`, Number(m[1]), Number(m[2]), 'standard', false);
  m = /^rec-(\d+)$/.exec(key);
  if (m) return spec(key, `1 room x ${m[1]}, standard, recording`, 1, Number(m[1]), 'standard', true);
  m = /^(shared-)?churn(?:-(\d+))?$/.exec(key);
  if (m) {
    const cycles = m[2] === undefined ? CHURN_CYCLES : Number(m[2]);
    if (cycles < 1 || cycles > 20) return null;
    const shared = m[1] !== undefined;
    const title = `1 room x ${CHURN_STABLE}, standard, +1 joining/leaving (${cycles}x)${shared ? ', one shared VP8 encode' : ''}`;
    const s = spec(key, title, 1, CHURN_STABLE, 'standard', false);
    return s && { ...s, churn: { cycles }, ...(shared ? { sharedEncode: true } : {}) };
  }
  m = /^pin-(\d+)$/.exec(key);
  if (m) {
    const s = spec(
      key,
      `1 room x ${m[1]}, standard, server pinned to 1 core`,
      1,
      Number(m[1]),
      'standard',
      false,
    );
    return s && { ...s, pinned: true };
  }
  return null;
}

function spec(
  key: string,
  title: string,
  rooms: number,
  perRoom: number,
  profile: ScenarioSpec['profile'],
  recording: boolean,
): ScenarioSpec | null {
  if (rooms < 1 || perRoom < 1 || perRoom > 64 || rooms > 16) return null;
  return { key, title, rooms, perRoom, profile, recording };
}
