/**
 * The adaptive-downlink scenario (issue #15 item 2, docs/adaptive-downlink.md): one receiver
 * asking for `standard` runs in a network namespace of its own behind a tbf-shaped veth (its
 * downlink only), three publishers with busy pictures stay on the host, unconstrained. The link
 * goes free (3000 kbit/s) → narrow (300 or 150) → free, and the scenario reports, per variant:
 * time to adapt down, freezes on the constrained receiver (before and once adapted), fps and
 * frame size at the smaller profile, time to recover, and the publishers' received fps (the
 * others must not notice). The variant with DOWNLINK_ADAPTATION=off is what the issue measured
 * before. The loss variants keep the rate free and drop 1 % or 5 % of the packets into the
 * namespace at random instead (nftables inside it; no netem here): NACK/RTX should carry that,
 * so a good outcome is no step and no freeze. `shared-300` runs the 300 kbit/s case with
 * VIDEO_ENCODE=shared: the receiver is then on the RTP-level stack, judged from its REMB and
 * receiver reports, and moved between the profiles' shared encodes (issue #17 item 3);
 * `shared-loss1` / `shared-loss5` run the loss cases so. `shared-300-chromium` / `shared-150-chromium`
 * put Debian's Chromium behind the link instead of the wrtc receiver (bench/downlink-chromium-viewer.ts:
 * a browser's own REMB, reports and jitter buffers; frames counted as the page shows them).
 * Needs root (ip netns, tc, nft); skipped otherwise.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DownlinkProfile } from '../workers/protocol/media';
import type { ProfileChangedEvent } from '../workers/protocol/signaling';
import { adminRequest, createRoom, type ServerEndpoint } from './control-api';
import { ChromiumDownlinkViewer } from './downlink-chromium-viewer';
import { ServerProcess } from './server-process';
import { SyntheticParticipant } from './synthetic-participant';
import {
  canDropPackets,
  canShapeLinks,
  createShapedLink,
  type ShapedLink,
} from '../test/helpers/shaped-link';

const ROOT = path.resolve(__dirname, '../..');
const JOIN_TIMEOUT_MS = 15_000;
const PUBLISHERS = 3;
/** Gaps between two frames this long or longer count as freezes (the issue's target). */
const FREEZE_MS = 500;
/** The free link's rate. */
const FREE_KBIT = 3000;

export interface DownlinkVariant {
  name: string;
  /** The rate of the impaired phase (3000: rate unchanged). */
  narrowKbit: number;
  /** Share of the packets into the namespace dropped at random in the impaired phase (0..1). */
  loss?: number;
  adaptation: boolean;
  /** VIDEO_ENCODE=shared: the receiver is on the RTP-level stack and switches shared streams. */
  sharedEncode?: boolean;
  /** The receiver is Debian's Chromium instead of a wrtc peer (bench/downlink-chromium-viewer.ts). */
  chromium?: boolean;
}

export const DOWNLINK_VARIANTS: DownlinkVariant[] = [
  { name: 'off-300', narrowKbit: 300, adaptation: false },
  { name: 'on-300', narrowKbit: 300, adaptation: true },
  { name: 'on-150', narrowKbit: 150, adaptation: true },
  { name: 'shared-300', narrowKbit: 300, adaptation: true, sharedEncode: true },
  // The default path (VIDEO_ENCODE=shared) at the issue's narrowest link: below `low`'s need.
  { name: 'shared-150', narrowKbit: 150, adaptation: true, sharedEncode: true },
  { name: 'on-loss1', narrowKbit: FREE_KBIT, loss: 0.01, adaptation: true },
  { name: 'on-loss5', narrowKbit: FREE_KBIT, loss: 0.05, adaptation: true },
  // The shared path under random loss: its retransmissions are bounded (a burst, then half the
  // media rate) and NACKs count as loss for it; neither must step a lossy but wide link down.
  { name: 'shared-loss1', narrowKbit: FREE_KBIT, loss: 0.01, adaptation: true, sharedEncode: true },
  { name: 'shared-loss5', narrowKbit: FREE_KBIT, loss: 0.05, adaptation: true, sharedEncode: true },
  // The default path with a browser behind the link: its own REMB, reports and jitter buffers.
  { name: 'shared-300-chromium', narrowKbit: 300, adaptation: true, sharedEncode: true, chromium: true },
  { name: 'shared-150-chromium', narrowKbit: 150, adaptation: true, sharedEncode: true, chromium: true },
];

export interface DownlinkVariantResult {
  variant: DownlinkVariant;
  status: 'ok' | 'failed';
  error?: string;
  /** Seconds from the link narrowing to the first step down / to the last one before it freed. */
  adaptDownS: number | null;
  /** Where adaptation settled while narrow (null: no step). */
  narrowProfile: DownlinkProfile | null;
  stepsWhileNarrow: DownlinkProfile[];
  /** Longest gap between two frames from the narrowing to 2 s after the first step down, ms. */
  worstFreezeAtDropMs: number;
  /** From then until the link frees, while video was served: gaps >= 500 ms, and the longest. */
  freezesSettled: number;
  worstFreezeSettledMs: number;
  /** Those freezes: when each began (seconds from the narrowing) and how long it lasted. */
  freezes?: { t: number; ms: number }[];
  /** Received fps and frame width over that window, while video was served (probes included). */
  fpsSettled: number | null;
  widthSettled: number | null;
  /**
   * The smallest video profile served in that window, and the received fps while it was served
   * (the issue's "≥ 14 fps at the smaller profile": a probe back to a larger profile is not it).
   */
  smallestProfile: DownlinkProfile | null;
  fpsAtSmallest: number | null;
  /** Seconds of the adapted window served audio only. */
  audioOnlyS: number;
  /** Seconds from the link freeing to being served `standard` again (null: not within the phase). */
  recoverS: number | null;
  fpsAfterRecovery: number | null;
  /** Every profile-changed the receiver got, seconds from the start of the narrow phase. */
  events: { t: number; profile: DownlinkProfile; reason: string }[];
  /** Mean received fps of the unconstrained publishers while the link was free, and narrow. */
  othersFpsFree: number | null;
  othersFpsNarrow: number | null;
  /** Loss variants: the share of UDP packets into the namespace dropped in the impaired phase. */
  measuredLoss: number | null;
  /**
   * The constrained receiver's audio while the link was impaired: packets lost of those sent
   * (0..1), and samples its jitter buffer concealed of those played (0..1; null when the client
   * reported none). Audio stays on every profile: a step or a probe that overfills the link
   * shows here.
   */
  audioLostNarrow?: number | null;
  audioConcealedNarrow?: number | null;
}

export interface DownlinkBenchResult {
  date: string;
  cores: number;
  loadavgStart: number[];
  loadavgEnd: number[];
  phases: { freeS: number; narrowS: number; recoverS: number; recoverMs: number };
  variants: DownlinkVariantResult[];
  skipped?: string;
}

interface ViewerLine {
  at?: number;
  frames?: number;
  size?: { width: number; height: number } | null;
  longGaps?: [number, number][];
  profileEvents?: (ProfileChangedEvent & { at: number })[];
  /** Counters since the join (downlink-viewer.js). */
  audio?: { packets: number; lost: number; samples: number; concealed: number };
  error?: string;
}

export interface DownlinkBenchOptions {
  variants?: DownlinkVariant[];
  freeS?: number;
  narrowS?: number;
  recoverS?: number;
  progress: (line: string) => void;
  track: (close: () => Promise<void> | void) => () => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runAdaptiveDownlink(opts: DownlinkBenchOptions): Promise<DownlinkBenchResult> {
  const phases = { freeS: opts.freeS ?? 20, narrowS: opts.narrowS ?? 40, recoverS: opts.recoverS ?? 50 };
  const result: DownlinkBenchResult = {
    date: new Date().toISOString(),
    cores: os.cpus().length,
    loadavgStart: os.loadavg().map(round2),
    loadavgEnd: [],
    phases: { ...phases, recoverMs: 15_000 },
    variants: [],
  };
  if (!canShapeLinks()) {
    result.skipped = 'needs root with ip netns and tc';
    return result;
  }
  for (const v of opts.variants ?? DOWNLINK_VARIANTS) {
    if (v.loss && !canDropPackets()) {
      opts.progress(`variant ${v.name} skipped: needs nft (Debian nftables)`);
      continue;
    }
    opts.progress(`variant ${v.name}`);
    result.variants.push(await runVariant(v, phases, opts));
  }
  result.loadavgEnd = os.loadavg().map(round2);
  return result;
}

async function runVariant(
  variant: DownlinkVariant,
  phases: { freeS: number; narrowS: number; recoverS: number },
  opts: DownlinkBenchOptions,
): Promise<DownlinkVariantResult> {
  let link: ShapedLink | null = null;
  const server = new ServerProcess();
  const publishers: SyntheticParticipant[] = [];
  let stopViewer: (() => Promise<void> | void) | null = null;
  const close = async () => {
    await stopViewer?.();
    for (const p of publishers) p.close();
    await server.stop();
    link?.destroy();
  };
  const untrack = opts.track(close);
  const out: DownlinkVariantResult = {
    variant,
    status: 'ok',
    adaptDownS: null,
    narrowProfile: null,
    stepsWhileNarrow: [],
    worstFreezeAtDropMs: 0,
    freezesSettled: 0,
    worstFreezeSettledMs: 0,
    freezes: [],
    fpsSettled: null,
    smallestProfile: null,
    fpsAtSmallest: null,
    widthSettled: null,
    audioOnlyS: 0,
    recoverS: null,
    fpsAfterRecovery: null,
    events: [],
    othersFpsFree: null,
    othersFpsNarrow: null,
    measuredLoss: null,
    audioLostNarrow: null,
    audioConcealedNarrow: null,
  };
  try {
    const shaped = createShapedLink('dlb', '10.234');
    link = shaped;
    const shape = (kbit: number) => shaped.shape(kbit);
    shape(FREE_KBIT);

    await server.start({
      HOST: shaped.hostIp,
      DOWNLINK_ADAPTATION: variant.adaptation ? 'on' : 'off',
      VIDEO_ENCODE: variant.sharedEncode ? 'shared' : 'per-peer',
    });
    const roomId = `downlink-${variant.name}`;
    await createRoom(server, { roomId, profile: 'standard', maxParticipants: 8 });
    for (let i = 0; i < PUBLISHERS; i++) {
      const p = new SyntheticParticipant(i, roomId, 'standard');
      p.sender.busy = true;
      const joined = await p.join(server, JOIN_TIMEOUT_MS);
      publishers.push(p);
      await p.connect(joined);
      p.sender.start();
      const ids = publishers.map((x) => x.participantId);
      for (const x of publishers) x.setRoomOrder(ids);
    }

    const token = await viewerToken(server, roomId);
    const lines: ViewerLine[] = [];
    if (variant.chromium) {
      const cv = await ChromiumDownlinkViewer.join(server.url, roomId, token, 'standard', shaped.ns, (l) =>
        lines.push(l),
      );
      stopViewer = () => cv.close();
    } else {
      const proc = shaped.spawnNode(path.join(ROOT, 'test/fixtures/netns/downlink-viewer.js'), {
        cwd: ROOT,
        env: { PATH: process.env.PATH, MCU_URL: server.url, MCU_ROOM: roomId, MCU_TOKEN: token },
        stderr: 'ignore',
      });
      stopViewer = () => void proc.kill('SIGTERM');
      let buf = '';
      proc.stdout?.on('data', (b: Buffer) => {
        buf += b.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          lines.push(JSON.parse(buf.slice(0, i)) as ViewerLine);
          buf = buf.slice(i + 1);
        }
      });
    }
    const last = () => lines[lines.length - 1] ?? {};
    const deadline = Date.now() + 40_000;
    while (!((last().frames ?? 0) > 30) && !last().error && Date.now() < deadline) await sleep(250);
    if (last().error || !((last().frames ?? 0) > 30))
      throw new Error(`the receiver got no picture: ${JSON.stringify(last())}`);

    const othersFrames = () => publishers.reduce((s, p) => s + p.framesTotal, 0);
    let f0 = othersFrames();
    await sleep(phases.freeS * 1000);
    out.othersFpsFree = round1((othersFrames() - f0) / PUBLISHERS / phases.freeS);

    const narrowAt = Date.now();
    shape(variant.narrowKbit);
    if (variant.loss) shaped.loss(variant.loss);
    opts.progress(
      `${variant.name}: link ${variant.narrowKbit} kbit/s` +
        (variant.loss ? `, ${variant.loss * 100} % loss` : ''),
    );
    f0 = othersFrames();
    await sleep(phases.narrowS * 1000);
    out.othersFpsNarrow = round1((othersFrames() - f0) / PUBLISHERS / phases.narrowS);
    const freeAt = Date.now();
    if (variant.loss) {
      const c = shaped.lossCounters();
      out.measuredLoss = c.seen > 0 ? Math.round((c.dropped / c.seen) * 10_000) / 10_000 : null;
      shaped.loss(0);
    }
    shape(FREE_KBIT);
    opts.progress(`${variant.name}: link free again`);
    // No step while impaired (the loss variants' good outcome): nothing to recover from.
    const stepped = (last().profileEvents ?? []).some((e) => e.at >= narrowAt);
    const endAt = freeAt + (stepped ? phases.recoverS : 5) * 1000;
    while (Date.now() < endAt) {
      const ev = last().profileEvents ?? [];
      const e = ev[ev.length - 1];
      if (variant.adaptation && e && e.at > freeAt && e.profile === 'standard' && Date.now() - e.at > 5000)
        break; // recovered and 5 s of pictures to count
      await sleep(500);
    }
    const stopAt = Date.now();

    const events = last().profileEvents ?? [];
    out.events = events.map((e) => ({
      t: round1((e.at - narrowAt) / 1000),
      profile: e.profile,
      reason: e.reason,
    }));
    const downs = events.filter((e) => e.reason === 'bandwidth' && e.at >= narrowAt && e.at < freeAt);
    out.stepsWhileNarrow = downs.map((e) => e.profile);
    out.adaptDownS = downs.length ? round1((downs[0].at - narrowAt) / 1000) : null;
    out.narrowProfile = downs.length ? downs[downs.length - 1].profile : null;
    // What was served at a time: the last event before it (the requested profile before any).
    const servedAt = (t: number): DownlinkProfile => {
      let p: DownlinkProfile = 'standard';
      for (const e of events) if (e.at <= t) p = e.profile;
      return p;
    };
    // "At the drop": from the narrowing to 2 s after the first step (or the whole narrow phase).
    const adaptedAt = downs.length ? downs[0].at + 2000 : narrowAt + 2000;
    const gaps = lines.flatMap((l) => l.longGaps ?? []);
    out.worstFreezeAtDropMs = Math.max(
      0,
      ...gaps.filter(([at]) => at >= narrowAt && at < adaptedAt).map(([, ms]) => ms),
    );
    // Once adapted: gaps while video was served throughout (no frames on `audio` is no freeze,
    // nor is a gap from one probe's last frame across `audio` to the next probe's first).
    const audioDuring = (from: number, to: number) =>
      servedAt(from) === 'audio' || events.some((e) => e.at > from && e.at <= to && e.profile === 'audio');
    const videoGaps = gaps.filter(([at, ms]) => at >= adaptedAt && at < freeAt && !audioDuring(at - ms, at));
    out.freezesSettled = videoGaps.filter(([, ms]) => ms >= FREEZE_MS).length;
    out.freezes = videoGaps
      .filter(([, ms]) => ms >= FREEZE_MS)
      .map(([at, ms]) => ({ t: round1((at - ms - narrowAt) / 1000), ms: Math.round(ms) }));
    out.worstFreezeSettledMs = Math.max(0, ...videoGaps.map(([, ms]) => ms));
    const video = videoWindow(lines, adaptedAt, freeAt, servedAt);
    out.fpsSettled = video.fps;
    out.widthSettled = video.width;
    out.audioOnlyS = video.audioS;
    const served = new Set<DownlinkProfile>([
      servedAt(adaptedAt),
      ...events.filter((e) => e.at >= adaptedAt && e.at < freeAt).map((e) => e.profile),
    ]);
    const smallest = VIDEO_ORDER.find((p) => served.has(p)) ?? null;
    out.smallestProfile = smallest;
    if (smallest) out.fpsAtSmallest = videoWindow(lines, adaptedAt, freeAt, servedAt, smallest).fps;
    const audio = audioWindow(lines, narrowAt, freeAt);
    out.audioLostNarrow = audio.lost;
    out.audioConcealedNarrow = audio.concealed;
    const up = events.find((e) => e.at >= freeAt && e.profile === 'standard');
    out.recoverS = up ? round1((up.at - freeAt) / 1000) : null;
    if (up) out.fpsAfterRecovery = window(lines, up.at + 1000, stopAt).fps;
    opts.progress(
      `${variant.name}: down after ${out.adaptDownS ?? '-'} s to ${out.narrowProfile ?? '-'}, ` +
        `fps ${out.fpsSettled ?? '-'} at ${out.widthSettled ?? '-'} px wide (${out.fpsAtSmallest ?? '-'} on ${out.smallestProfile ?? '-'}), ` +
        `${out.freezesSettled} freezes settled, recovered after ${out.recoverS ?? '-'} s, ` +
        `audio lost ${pct(out.audioLostNarrow)} / concealed ${pct(out.audioConcealedNarrow)} while impaired`,
    );
  } catch (err) {
    out.status = 'failed';
    out.error = (err as Error).message;
    opts.progress(`${variant.name} failed: ${out.error}`);
  } finally {
    await close();
    untrack();
  }
  return out;
}

/** Video profiles from the smallest. */
const VIDEO_ORDER: readonly DownlinkProfile[] = ['low', 'standard', 'high'];

/**
 * Over [from, to): frames per second while video was served (pairs of consecutive lines both
 * on a video profile; with `only`, both on that profile), the last frame width seen then, and
 * the seconds served audio only.
 */
function videoWindow(
  lines: ViewerLine[],
  from: number,
  to: number,
  servedAt: (t: number) => DownlinkProfile,
  only?: DownlinkProfile,
): { fps: number | null; width: number | null; audioS: number } {
  const inside = lines.filter((l) => (l.at ?? 0) >= from && (l.at ?? 0) < to);
  let frames = 0;
  let ms = 0;
  let audioMs = 0;
  let width: number | null = null;
  for (let i = 1; i < inside.length; i++) {
    const a = inside[i - 1];
    const b = inside[i];
    const dt = (b.at ?? 0) - (a.at ?? 0);
    if (servedAt(a.at ?? 0) === 'audio' || servedAt(b.at ?? 0) === 'audio') {
      audioMs += dt;
      continue;
    }
    if (only && (servedAt(a.at ?? 0) !== only || servedAt(b.at ?? 0) !== only)) continue;
    frames += (b.frames ?? 0) - (a.frames ?? 0);
    ms += dt;
    width = b.size?.width ?? width;
  }
  return { fps: ms > 0 ? round1(frames / (ms / 1000)) : null, width, audioS: round1(audioMs / 1000) };
}

/** The receiver's audio over [from, to): packets lost of those sent, samples concealed of those played. */
function audioWindow(
  lines: ViewerLine[],
  from: number,
  to: number,
): { lost: number | null; concealed: number | null } {
  const inside = lines.filter((l) => l.audio && (l.at ?? 0) >= from && (l.at ?? 0) < to);
  const a = inside[0]?.audio;
  const b = inside[inside.length - 1]?.audio;
  if (!a || !b || inside.length < 2) return { lost: null, concealed: null };
  const lost = b.lost - a.lost;
  const sent = lost + (b.packets - a.packets);
  const samples = b.samples - a.samples;
  return {
    lost: sent > 0 ? Math.round((Math.max(0, lost) / sent) * 10_000) / 10_000 : null,
    concealed: samples > 0 ? Math.round(((b.concealed - a.concealed) / samples) * 10_000) / 10_000 : null,
  };
}

function pct(x: number | null | undefined): string {
  return x == null ? '—' : `${(x * 100).toFixed(1)} %`;
}

/** Frames per second and the last frame width over [from, to) from the receiver's lines. */
function window(lines: ViewerLine[], from: number, to: number): { fps: number | null; width: number | null } {
  const inside = lines.filter((l) => (l.at ?? 0) >= from && (l.at ?? 0) < to);
  if (inside.length < 2) return { fps: null, width: null };
  const a = inside[0];
  const b = inside[inside.length - 1];
  const fps = ((b.frames ?? 0) - (a.frames ?? 0)) / (((b.at ?? 0) - (a.at ?? 0)) / 1000);
  return { fps: round1(fps), width: b.size?.width ?? null };
}

async function viewerToken(server: ServerEndpoint, roomId: string): Promise<string> {
  const res = await adminRequest<{ token: string }>(server, 'POST', `/api/rooms/${roomId}/tokens`, {
    identity: `constrained-${randomBytes(3).toString('hex')}`,
    displayName: 'constrained',
    role: 'viewer',
  });
  if (res.status !== 201 || !res.body) throw new Error(`token: ${res.status}`);
  return res.body.token;
}

export function adaptiveDownlinkMarkdown(r: DownlinkBenchResult, command: string): string {
  const out = [
    '# Adaptive downlink (bench/adaptive-downlink.ts)',
    '',
    `${r.date}, ${r.cores} cores, load average ${r.loadavgStart.join(' / ')} → ${r.loadavgEnd.join(' / ')}.`,
    `Command: \`${command}\`.`,
    '',
    `One receiver asking for \`standard\` in a network namespace, its downlink shaped with tbf: ` +
      `3000 kbit/s for ${r.phases.freeS} s, impaired for ${r.phases.narrowS} s (a narrower rate, or ` +
      `random loss of the packets into the namespace by an nftables rule), free again for up to ` +
      `${r.phases.recoverS} s. Three publishers with busy pictures, unconstrained. ` +
      `Freezes: gaps between two received frames of ${FREEZE_MS} ms or more.`,
    '',
  ];
  if (r.skipped) return [...out, `Skipped: ${r.skipped}.`, ''].join('\n');
  out.push(
    '| variant | impaired link | adapted down after | steps while narrow | worst gap at the drop | freezes once adapted (worst) | fps / width once adapted (video served) | fps at the smallest profile served | audio only once adapted | its audio lost / concealed while impaired | recovered after | fps after | publishers fps free / narrow |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const v of r.variants) {
    if (v.status !== 'ok') {
      out.push(`| ${v.variant.name} | ${linkLabel(v)} | failed: ${v.error ?? ''} | | | | | | | | | | |`);
      continue;
    }
    out.push(
      `| ${v.variant.name} | ${linkLabel(v)} | ${v.adaptDownS === null ? '—' : `${v.adaptDownS} s`} | ${v.stepsWhileNarrow.join(' → ') || '—'} | ` +
        `${Math.round(v.worstFreezeAtDropMs)} ms | ${v.freezesSettled} (${Math.round(v.worstFreezeSettledMs)} ms) | ` +
        `${v.fpsSettled ?? '—'} / ${v.widthSettled ?? '—'} | ` +
        `${v.fpsAtSmallest ?? '—'}${v.smallestProfile ? ` (${v.smallestProfile})` : ''} | ${v.audioOnlyS} s | ` +
        `${pct(v.audioLostNarrow)} / ${pct(v.audioConcealedNarrow)} | ` +
        `${v.recoverS === null ? '—' : `${v.recoverS} s`} | ` +
        `${v.fpsAfterRecovery ?? '—'} | ${v.othersFpsFree ?? '—'} / ${v.othersFpsNarrow ?? '—'} |`,
    );
  }
  out.push('', 'Events (seconds from the narrowing):', '');
  for (const v of r.variants)
    out.push(
      `- ${v.variant.name}: ${v.events.map((e) => `${e.t} s ${e.profile} (${e.reason})`).join(', ') || 'none'}` +
        (v.freezes?.length
          ? `; freezes once adapted: ${v.freezes.map((f) => `${f.t} s (${f.ms} ms)`).join(', ')}`
          : ''),
    );
  out.push('');
  return out.join('\n');
}

function linkLabel(v: DownlinkVariantResult): string {
  const rate = `${v.variant.narrowKbit} kbit/s`;
  if (!v.variant.loss) return rate;
  const measured = v.measuredLoss === null ? '' : ` (measured ${round1(v.measuredLoss * 100)} %)`;
  return `${rate}, ${v.variant.loss * 100} % loss${measured}`;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
