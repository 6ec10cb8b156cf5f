/**
 * `npm run bench:lip-sync`: A/V offset end to end, through WebRTC (issue #15 item 1).
 *
 * A real @roamhq/wrtc publisher (FlashBeepSender: picture flashes white and a 1 kHz beep starts
 * at the same media instant every ~2 s, both tracks in one MediaStream as a browser sends them)
 * joins a real server (`dist/src/main.js`, its own process); a wrtc viewer in the same room
 * receives the composite and the mix; the room is recorded. Per event:
 *
 * - recording: beep onset − flash onset in the finalized MP4 (pts of the first bright frame,
 *   first loud sample);
 * - viewer: the same at the viewer's sinks (performance.now() of the first bright decoded frame,
 *   sample-clock time of the first loud sample). This includes the viewer's own wrtc receive
 *   stack, which adds an offset of its own (docs/lip-sync.md).
 *
 * Positive = the sound comes after the picture. Reports median, mean, p95 of |offset|, min/max
 * and drift (least-squares slope, last-quarter − first-quarter medians).
 *
 *   node dist/bench/lip-sync.js [--minutes=N] [--warmup=S] [--label=NAME] [--no-shared-stream]
 *                               [--viewer-profile=low|standard|high] [--chromium-viewer]
 *                               [--env=KEY=VALUE ...]
 *
 * `--chromium-viewer` adds a second viewer, Debian's Chromium (lip-sync/chromium-viewer.ts): its
 * onsets are where the browser shows the frame and plays the sample, its own A/V sync included.
 *
 * The viewer asks for `standard` (15 fps) by default: a flash then shows on the next of its
 * frames, 66.7 ms apart, which alone spreads its offsets over ~50 ms; `high` (30 fps) halves that.
 *
 * Writes bench/results/lip-sync-<label>.{json,md} (label default: "run").
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { api, ensureRoom, registerAdminKey } from '../test/helpers/api';
import { TestClient } from '../test/helpers/wrtc-client';
import type { RecordingManifest } from '../workers/protocol/recording';
import { isOneOf, PROFILES, type Profile } from '../workers/protocol/media';
import {
  FlashBeepSender,
  pairOnsets,
  MAX_PUSH_LATE_MS,
  pushLateness,
  quantile,
  SinkOnsets,
  summarize,
  type OffsetSummary,
} from './lip-sync/flash-beep';
import { analyseRecording } from './lip-sync/recording';
import { ChromiumViewer } from './lip-sync/chromium-viewer';
import { ServerProcess } from './server-process';
import { inboundCounters, UNSEEN_AUDIO_MS, type InboundCounters } from '../workers/media/av-sync';
import { readMetrics } from './control-api';

const RESULTS_DIR = path.resolve(__dirname, '../../bench/results');
const ROOM = 'lip-sync';

interface Options {
  minutes: number;
  /** Seconds of call before the recording starts (NetEq settles from its start-up delay). */
  warmupSec: number;
  label: string;
  sharedStream: boolean;
  viewerProfile: Profile;
  chromiumViewer: boolean;
  env: Record<string, string>;
}

function parseCli(argv: string[]): Options {
  const opts: Options = {
    minutes: 3,
    warmupSec: 20,
    label: 'run',
    sharedStream: true,
    viewerProfile: 'standard',
    chromiumViewer: false,
    env: {},
  };
  for (const arg of argv) {
    const eq = arg.indexOf('=');
    const key = eq < 0 ? arg : arg.slice(0, eq);
    const value = eq < 0 ? undefined : arg.slice(eq + 1);
    if (key === '--minutes' && Number(value) > 0) opts.minutes = Number(value);
    else if (key === '--warmup' && Number(value) >= 0) opts.warmupSec = Number(value);
    else if (key === '--label' && value && /^[a-z0-9-]+$/.test(value)) opts.label = value;
    else if (key === '--no-shared-stream' && value === undefined) opts.sharedStream = false;
    else if (key === '--chromium-viewer' && value === undefined) opts.chromiumViewer = true;
    else if (key === '--viewer-profile' && value !== undefined && isOneOf(PROFILES, value))
      opts.viewerProfile = value;
    else if (key === '--env' && value && value.includes('=')) {
      const i = value.indexOf('=');
      opts.env[value.slice(0, i)] = value.slice(i + 1);
    } else
      throw new Error(
        `unknown option ${arg} (--minutes=N --warmup=S --label=NAME --no-shared-stream --viewer-profile=P --chromium-viewer --env=K=V)`,
      );
  }
  return opts;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (line: string): void => void process.stderr.write(`[lip-sync] ${line}\n`);

export interface StackMeans {
  audioJitterMs: number;
  videoJitterMs: number;
  decodeMs: number;
}

/** Mean delays between two readings of a receiver's inbound counters (null: nothing emitted). */
function stackMeans(a: InboundCounters | null, b: InboundCounters | null): StackMeans | null {
  if (!a || !b || b.audioEmitted <= a.audioEmitted || b.videoEmitted <= a.videoEmitted) return null;
  return {
    audioJitterMs: ((b.audioJitterDelayS - a.audioJitterDelayS) / (b.audioEmitted - a.audioEmitted)) * 1000,
    videoJitterMs: ((b.videoJitterDelayS - a.videoJitterDelayS) / (b.videoEmitted - a.videoEmitted)) * 1000,
    decodeMs:
      b.videoDecoded > a.videoDecoded
        ? ((b.videoDecodeS - a.videoDecodeS) / (b.videoDecoded - a.videoDecoded)) * 1000
        : 0,
  };
}

/** The same, to 0.1 ms for the report. */
function roundedStack(m: StackMeans | null): StackMeans | null {
  const r = (x: number): number => Math.round(x * 10) / 10;
  return (
    m && { audioJitterMs: r(m.audioJitterMs), videoJitterMs: r(m.videoJitterMs), decodeMs: r(m.decodeMs) }
  );
}

export interface LipSyncResult {
  date: string;
  options: Options;
  loadavg: { start: number[]; end: number[] };
  recording: OffsetSummary & { flashes: number; beeps: number; durationSec: number };
  viewer: OffsetSummary & { flashes: number; beeps: number; frames: number };
  /** The same, only events whose flash the sender pushed on time (≤ MAX_PUSH_LATE_MS late). */
  recordingClean: OffsetSummary;
  viewerClean: OffsetSummary;
  /** Publisher: events sent and how late the worst flash push ran (ms). */
  sender: { events: number; maxPushLateMs: number };
  /** Server side, from /metrics at the end: the mcu_av_sync_* gauges (per participant). */
  serverSync: Record<string, number> | null;
  /**
   * The server's estimate against the recording: per event, offset − (estimate − applied delay)
   * at that time, i.e. what the estimate failed to predict (its calibration error).
   */
  estimateError: { medianMs: number | null; p95AbsMs: number | null; events: number };
  /** Applied video delay over the run (ms): min, median, max of the 2 s samples. */
  appliedDelay: { minMs: number | null; medianMs: number | null; maxMs: number | null };
  /**
   * The viewer's own receive stack (its getStats, same model as the server's: NetEq + unseen
   * audio share − video jitter buffer − decode), and the viewer's offsets with it removed: what
   * a receiver that aligns its own playout (a browser with both tracks in one stream) would see.
   */
  viewerStack: { medianMs: number | null };
  viewerCorrected: OffsetSummary;
  /** The Chromium viewer (--chromium-viewer): all events and those the sender pushed on time. */
  chromium: (OffsetSummary & { flashes: number; beeps: number; frames: number; streams: string[] }) | null;
  chromiumClean: OffsetSummary | null;
  /**
   * The Chromium viewer's events where its receive stack hands them to the tracks
   * (MediaStreamTrackProcessor), sender on time: the browser's figure without its compositor and
   * audio output; and the AudioContext's reported latencies (s) for that launch.
   */
  chromiumTrack: (OffsetSummary & { outputLatencyS: number | null; baseLatencyS: number | null }) | null;
  /**
   * Each viewer's own receive stack over the measured window, from its getStats (means per
   * sample / frame, ms): audio jitter buffer, video jitter buffer, decode.
   */
  receiveStacks: {
    wrtc: StackMeans | null;
    chromium: StackMeans | null;
  };
  recordingOffsets: number[];
  viewerOffsets: number[];
  chromiumOffsets: number[];
  /** Chromium at its tracks, events whose flash the sender pushed on time. */
  chromiumTrackOffsets: number[];
}

async function waitForRecording(server: ServerProcess, id: string): Promise<RecordingManifest> {
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const r = await api<RecordingManifest>(server, `/api/recordings/${id}`).catch(() => null);
    if (r?.status === 200 && ['ready', 'interrupted', 'failed'].includes(r.body.state)) return r.body;
    await sleep(500);
  }
  throw new Error(`recording ${id} was not finalized in time`);
}

async function main(): Promise<void> {
  const opts = parseCli(process.argv.slice(2));
  const loadStart = os.loadavg();
  const server = new ServerProcess();
  const clients: TestClient[] = [];
  let chromium: ChromiumViewer | null = null;
  const sender = new FlashBeepSender();
  try {
    await server.start(opts.env);
    registerAdminKey(server.url, server.adminApiKey);
    await ensureRoom(server, ROOM, { layout: 'grid' });
    const sink = new SinkOnsets();
    clients.push(
      await TestClient.connect(server.url, {
        roomId: ROOM,
        displayName: 'flash',
        attachMedia: (pc) => sender.attach(pc, opts.sharedStream),
      }),
    );
    sender.start();
    clients.push(
      await TestClient.connect(server.url, {
        roomId: ROOM,
        displayName: 'viewer',
        role: 'viewer',
        profile: opts.viewerProfile,
        onVideoFrame: (f, at) => sink.onVideoFrame(f, at),
        onAudio: (s, rate, ch, at) => sink.onAudio(s, rate, ch, at),
      }),
    );
    const deadline = Date.now() + 30_000;
    while (sink.frames === 0 && Date.now() < deadline) await sleep(200);
    if (sink.frames === 0) throw new Error('the viewer received no video');
    if (opts.chromiumViewer) chromium = await ChromiumViewer.join(server.url, ROOM, opts.viewerProfile);
    await sleep(opts.warmupSec * 1000);
    const started = await api<RecordingManifest>(server, `/api/rooms/${ROOM}/recordings`, {
      method: 'POST',
      body: {},
    });
    if (started.status !== 201) throw new Error(`recording start: ${started.status}`);
    log(`recording ${started.body.id} for ${opts.minutes} min`);
    const viewerFrom = performance.now();
    const recordingFrom = viewerFrom;
    const wrtcStart = inboundCounters(await clients[1].pc.getStats());
    const chromiumStart = chromium ? await chromium.counters() : null;
    const endAt = Date.now() + opts.minutes * 60_000;
    let serverSync: Record<string, number> | null = null;
    /** Every 2 s: the server's estimate and applied delay, the viewer's own-stack estimate. */
    const timeline: {
      at: number;
      estimate: number | null;
      applied: number | null;
      viewerStack: number | null;
    }[] = [];
    let viewerPrev: InboundCounters | null = null;
    let nextReport = Date.now() + 15_000;
    while (Date.now() < endAt) {
      await sleep(Math.min(2_000, Math.max(0, endAt - Date.now())));
      const metrics = await readMetrics(server).catch(() => null);
      let estimate: number | null = null;
      let applied: number | null = null;
      if (metrics) {
        const sync: Record<string, number> = {};
        for (const [k, v] of metrics) if (k.startsWith('mcu_av_sync')) sync[k] = Math.round(v * 10) / 10;
        serverSync = Object.keys(sync).length > 0 ? sync : null;
        for (const [k, v] of Object.entries(sync)) {
          if (k.startsWith('mcu_av_sync_estimate_ms')) estimate = v;
          if (k.startsWith('mcu_av_sync_video_delay_ms')) applied = v;
        }
      }
      const vc = inboundCounters(await clients[1].pc.getStats());
      const m = stackMeans(viewerPrev, vc);
      const viewerStack = m ? m.audioJitterMs + UNSEEN_AUDIO_MS - m.videoJitterMs - m.decodeMs : null;
      if (vc) viewerPrev = vc;
      timeline.push({ at: performance.now(), estimate, applied, viewerStack });
      if (Date.now() < nextReport) continue;
      nextReport = Date.now() + 15_000;
      const so = summarize(
        pairOnsets(
          sink.videoOnsets.filter((t) => t >= viewerFrom),
          sink.audioOnsets,
        ),
      );
      const co = chromium ? await chromium.collect() : null;
      const cs = co
        ? summarize(
            pairOnsets(
              co.video.filter((t) => t >= viewerFrom),
              co.audio,
            ),
          )
        : null;
      log(
        `viewer so far: ${so.events} events, median ${so.medianMs} ms, p95|.| ${so.p95AbsMs} ms` +
          (cs ? `; Chromium: ${cs.events} events, median ${cs.medianMs} ms, p95|.| ${cs.p95AbsMs} ms` : '') +
          (serverSync ? `; server video delay ${JSON.stringify(serverSync)}` : ''),
      );
    }
    await api(server, `/api/recordings/${started.body.id}/stop`, { method: 'POST' });
    const viewerTo = performance.now();
    const chromiumOnsets = chromium ? await chromium.collect() : null;
    const receiveStacks = {
      wrtc: roundedStack(stackMeans(wrtcStart, inboundCounters(await clients[1].pc.getStats()))),
      chromium: chromium ? roundedStack(stackMeans(chromiumStart, await chromium.counters())) : null,
    };
    const manifest = await waitForRecording(server, started.body.id);
    if (manifest.state === 'failed') throw new Error(`recording failed: ${manifest.failureReason}`);
    const mp4 = path.join(server.dir, 'recordings', manifest.id, 'recording.mp4');
    log(`analysing ${mp4}`);
    const rec = await analyseRecording(mp4, opts.minutes);
    const viewerVideo = sink.videoOnsets.filter((t) => t >= viewerFrom && t <= viewerTo);
    const viewerEvents = pairOnsets(viewerVideo, sink.audioOnsets);
    /** The timeline sample nearest to a time (bench clock). */
    const near = (t: number): (typeof timeline)[number] | null => {
      let best: (typeof timeline)[number] | null = null;
      for (const s of timeline) if (!best || Math.abs(s.at - t) < Math.abs(best.at - t)) best = s;
      return best;
    };
    const recLate = pushLateness(
      rec.events.map((e) => recordingFrom + e.videoMs),
      sender.sent,
    );
    const onTime = (late: number | null): boolean => late !== null && late <= MAX_PUSH_LATE_MS;
    const recClean = rec.events.filter((_, i) => onTime(recLate[i]));
    /** A viewer's events whose flash the sender pushed on time (bench clock). */
    const senderOnTime = (events: typeof viewerEvents): typeof viewerEvents => {
      const late = pushLateness(
        events.map((e) => e.videoMs),
        sender.sent,
      );
      return events.filter((_, i) => onTime(late[i]));
    };
    /** Flashes within the measured window paired with beeps. */
    const pairInWindow = (video: readonly number[], audio: readonly number[]): typeof viewerEvents =>
      pairOnsets(
        video.filter((t) => t >= viewerFrom && t <= viewerTo),
        audio,
      );
    const viewerClean = senderOnTime(viewerEvents);
    const errors: number[] = [];
    for (const e of recClean) {
      const s = near(recordingFrom + e.videoMs);
      if (s && s.estimate !== null && s.applied !== null) errors.push(e.offsetMs - (s.estimate - s.applied));
    }
    const corrected = viewerClean.flatMap((e) => {
      const s = near(e.videoMs);
      return s && s.viewerStack !== null
        ? [{ videoMs: e.videoMs, offsetMs: e.offsetMs - s.viewerStack }]
        : [];
    });
    const chromiumVideo = chromiumOnsets?.video.filter((t) => t >= viewerFrom && t <= viewerTo) ?? [];
    const chromiumEvents = chromiumOnsets ? pairInWindow(chromiumOnsets.video, chromiumOnsets.audio) : [];
    const chromiumClean = senderOnTime(chromiumEvents);
    const trackClean = chromiumOnsets
      ? senderOnTime(pairInWindow(chromiumOnsets.trackVideo, chromiumOnsets.trackAudio))
      : [];
    const stackValues = timeline.flatMap((s) => (s.viewerStack === null ? [] : [s.viewerStack]));
    const appliedValues = timeline.flatMap((s) => (s.applied === null ? [] : [s.applied]));
    const r1 = (x: number): number | null => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null);
    const result: LipSyncResult = {
      date: new Date().toISOString(),
      options: opts,
      loadavg: {
        start: loadStart.map((x) => Math.round(x * 100) / 100),
        end: os.loadavg().map((x) => Math.round(x * 100) / 100),
      },
      recording: {
        ...summarize(rec.events),
        flashes: rec.flashes,
        beeps: rec.beeps,
        durationSec: rec.durationSec,
      },
      viewer: {
        ...summarize(viewerEvents),
        flashes: viewerVideo.length,
        beeps: sink.audioOnsets.length,
        frames: sink.frames,
      },
      recordingClean: summarize(recClean),
      viewerClean: summarize(viewerClean),
      sender: {
        events: sender.sent.length,
        maxPushLateMs: Math.round(Math.max(0, ...sender.sent.map((e) => e.pushLateMs)) * 10) / 10,
      },
      serverSync,
      estimateError: {
        medianMs: r1(quantile(errors, 0.5)),
        p95AbsMs: r1(quantile(errors.map(Math.abs), 0.95)),
        events: errors.length,
      },
      appliedDelay: {
        minMs: r1(Math.min(...appliedValues)),
        medianMs: r1(quantile(appliedValues, 0.5)),
        maxMs: r1(Math.max(...appliedValues)),
      },
      viewerStack: { medianMs: r1(quantile(stackValues, 0.5)) },
      viewerCorrected: summarize(corrected),
      chromium: chromiumOnsets
        ? {
            ...summarize(chromiumEvents),
            flashes: chromiumVideo.length,
            beeps: chromiumOnsets.audio.length,
            frames: chromiumOnsets.frames,
            streams: chromiumOnsets.streams,
          }
        : null,
      chromiumClean: chromiumOnsets ? summarize(chromiumClean) : null,
      chromiumTrack: chromiumOnsets
        ? {
            ...summarize(trackClean),
            outputLatencyS: chromiumOnsets.outputLatency,
            baseLatencyS: chromiumOnsets.baseLatency,
          }
        : null,
      receiveStacks,
      recordingOffsets: rec.events.map((e) => Math.round(e.offsetMs * 10) / 10),
      viewerOffsets: viewerEvents.map((e) => Math.round(e.offsetMs * 10) / 10),
      chromiumOffsets: chromiumEvents.map((e) => Math.round(e.offsetMs * 10) / 10),
      chromiumTrackOffsets: trackClean.map((e) => Math.round(e.offsetMs * 10) / 10),
    };
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const base = path.join(RESULTS_DIR, `lip-sync-${opts.label}`);
    fs.writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
    fs.writeFileSync(`${base}.md`, markdown(result));
    process.stdout.write(markdown(result));
  } finally {
    sender.stop();
    await chromium?.close();
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await server.stop();
  }
}

function row(name: string, s: OffsetSummary): string {
  const f = (x: number | null): string => (x === null ? '–' : String(x));
  return `| ${name} | ${s.events} | ${f(s.medianMs)} | ${f(s.meanMs)} | ${f(s.p95AbsMs)} | ${f(s.minMs)} | ${f(s.maxMs)} | ${f(s.driftMsPerMin)} | ${f(s.driftFirstLastMs)} |`;
}

export function markdown(r: LipSyncResult): string {
  return [
    `# Lip sync through WebRTC (${r.options.label})`,
    '',
    `Run of ${r.date}: \`node dist/bench/lip-sync.js --minutes=${r.options.minutes} --warmup=${r.options.warmupSec} --label=${r.options.label}` +
      `${r.options.sharedStream ? '' : ' --no-shared-stream'}` +
      `${r.options.viewerProfile === 'standard' ? '' : ` --viewer-profile=${r.options.viewerProfile}`}` +
      `${r.options.chromiumViewer ? ' --chromium-viewer' : ''}` +
      `${Object.entries(r.options.env)
        .map(([k, v]) => ` --env=${k}=${v}`)
        .join(
          '',
        )}\`; load average ${r.loadavg.start.join(' / ')} at the start, ${r.loadavg.end.join(' / ')} at the end.`,
    '',
    'Offset = beep onset − flash onset, ms (positive: the sound is late). p95 is of |offset|; drift is',
    'the least-squares slope (ms/min) and the last-quarter median minus the first-quarter median.',
    `"Sender on time": events whose flash the publisher pushed at most ${MAX_PUSH_LATE_MS} ms late (a starved bench`,
    'process delays its picture against its sample-clocked sound, which is not the path under test).',
    '',
    '| where | events | median | mean | p95 \\|offset\\| | min | max | drift ms/min | drift last−first |',
    '| ----- | ------ | ------ | ---- | -------------- | --- | --- | ------------ | ---------------- |',
    row('**recording (MP4), sender on time**', r.recordingClean),
    row('recording (MP4), all events', r.recording),
    row('viewer sinks (wrtc), sender on time', r.viewerClean),
    row('viewer sinks (wrtc), all events', r.viewer),
    row("viewer, sender on time, its own stack's estimate removed", r.viewerCorrected),
    ...(r.chromium && r.chromiumClean
      ? [
          row('**viewer (Chromium: shown and played), sender on time**', r.chromiumClean),
          row('viewer (Chromium), all events', r.chromium),
        ]
      : []),
    ...(r.chromiumTrack
      ? [row('viewer (Chromium) at its tracks (MediaStreamTrackProcessor), sender on time', r.chromiumTrack)]
      : []),
    '',
    `Server: applied video delay min / median / max ${r.appliedDelay.minMs} / ${r.appliedDelay.medianMs} / ${r.appliedDelay.maxMs} ms;` +
      ` estimate error against the recording (offset − (estimate − applied)) median ${r.estimateError.medianMs} ms,` +
      ` p95 |.| ${r.estimateError.p95AbsMs} ms over ${r.estimateError.events} events.`,
    `Viewer's own receive stack (audio − video, its getStats): median ${r.viewerStack.medianMs} ms.`,
    ...(['wrtc', 'chromium'] as const).flatMap((k) => {
      const m = r.receiveStacks?.[k];
      return m
        ? [
            `${k === 'wrtc' ? 'wrtc' : 'Chromium'} viewer's receive stack over the window (means): audio jitter buffer ${m.audioJitterMs} ms, video jitter buffer ${m.videoJitterMs} ms, decode ${m.decodeMs} ms.`,
          ]
        : [];
    }),
    '',
    `Recording: ${r.recording.durationSec.toFixed(1)} s, ${r.recording.flashes} flashes and ${r.recording.beeps} beeps found.`,
    `Viewer: ${r.viewer.frames} frames, ${r.viewer.flashes} flashes and ${r.viewer.beeps} beeps seen.`,
    ...(r.chromium
      ? [
          `Chromium viewer: ${r.chromium.frames} frames, ${r.chromium.flashes} flashes and ${r.chromium.beeps} beeps seen; ` +
            `received tracks (kind:stream) ${r.chromium.streams.join(', ')}` +
            (r.chromiumTrack
              ? `; AudioContext outputLatency ${r.chromiumTrack.outputLatencyS} s, baseLatency ${r.chromiumTrack.baseLatencyS} s.`
              : '.'),
        ]
      : []),
    `Sender: ${r.sender.events} events sent, worst flash push ${r.sender.maxPushLateMs} ms late.`,
    `Server A/V sync at the end: ${r.serverSync ? JSON.stringify(r.serverSync) : 'not reported'}.`,
    '',
    `Recording offsets: ${r.recordingOffsets.join(' ')}`,
    '',
    `Viewer offsets: ${r.viewerOffsets.join(' ')}`,
    '',
    ...(r.chromium ? [`Chromium viewer offsets: ${r.chromiumOffsets.join(' ')}`, ''] : []),
    ...(r.chromiumTrack ? [`Chromium at its tracks, offsets: ${r.chromiumTrackOffsets.join(' ')}`, ''] : []),
  ].join('\n');
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`lip-sync failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
