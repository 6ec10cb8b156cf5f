/**
 * The report of the recording-drift benchmark: bench/results/recording-drift.{json,md} (or
 * recording-drift-partial.* for a non-default run).
 */
import * as os from 'node:os';
import { runProcess } from '../../workers/kernel/process-control';
import { AUDIO_SAMPLE_RATE } from '../../workers/media/recorder/recording-segmenter';
import type { OutputProfile } from '../../workers/protocol/media';
import type { Judgement, Measurement } from './analysis';
import type { CaptureResult } from './capture';
import {
  BEEP_AMPLITUDE,
  BEEP_HZ,
  BEEP_TICKS,
  EVENT_EVERY_SEC,
  loadavg,
  mean,
  round,
  SEGMENT_SECONDS,
  TARGET_OFFSET_MS,
  v,
  type EventResult,
  type Options,
} from './events';

export interface Report {
  date: string;
  command: string;
  target: string;
  settings: Record<string, unknown>;
  machine: Record<string, unknown>;
  summary: Record<string, number | string | boolean | null>;
  durations: Record<string, number | null>;
  capture: Record<string, unknown>;
  checks: Record<string, number | null>;
  verdict: { offset: 'PASS' | 'MISS'; drift: 'PASS' | 'MISS'; notes: string[] };
  events: EventResult[];
}

export function commandLine(): string {
  const args = process.argv.slice(2).join(' ');
  if (process.env.npm_lifecycle_event === 'bench:recording-drift') {
    return `npm run bench:recording-drift${args ? ` -- ${args}` : ''}`;
  }
  return `node dist/bench/recording-drift.js${args ? ` ${args}` : ''}`;
}

export function markdown(r: Report): string {
  const s = r.summary;
  const m = r.machine;
  const d = r.durations;
  const c = r.capture;
  const lines = [
    '# Long-recording A/V sync benchmark',
    '',
    `- Date: ${r.date}`,
    `- Command: \`${r.command}\``,
    `- Machine: ${v(m.nproc)} cores (${v(m.cpuModel)}), ${v(m.memoryGb)} GB RAM, ${v(m.platform)}, Node ${v(m.node)}, ${v(m.ffmpeg)}`,
    `- Load average (1/5/15 min) at start ${(m.loadAverageAtStart as number[]).join(' / ')}, at end ${(m.loadAverageAtEnd as number[]).join(' / ')}, highest 1-min value seen while recording ${v(m.maxLoad1mWhileRecording)}`,
    `- Settings: ${v(r.settings.minutes)} min, profile ${v(r.settings.profile)} (${v(r.settings.width)}x${v(r.settings.height)}@${v(r.settings.fps)}), a flash + beep every ${EVENT_EVERY_SEC} s`,
    `- Target: ${r.target}`,
    '',
    '## Summary',
    '',
    '| measure | value |',
    '| --- | --- |',
    `| events found (flash and beep) / expected | ${v(s.eventsPaired)} / ${v(s.eventsExpected)} |`,
    `| first-minute mean offset (video − audio) | ${v(s.firstMinuteMeanOffsetMs, ' ms')} |`,
    `| last-minute mean offset | ${v(s.lastMinuteMeanOffsetMs, ' ms')} |`,
    `| drift (last − first) | ${v(s.driftMs, ' ms')} — **${r.verdict.drift}** |`,
    `| max abs offset | ${v(s.maxAbsOffsetMs, ' ms')} — **${r.verdict.offset}** |`,
    `| offset range (min … max) | ${v(s.minOffsetMs)} … ${v(s.maxOffsetMs, ' ms')} |`,
    `| file duration vs wall clock | ${v(d.fileSec, ' s')} vs ${v(d.wallClockSec, ' s')} (media clock ${v(d.mediaSec, ' s')}) |`,
    `| video / audio stream durations | ${v(d.videoStreamSec, ' s')} / ${v(d.audioStreamSec, ' s')} |`,
    `| segmenter frames written / duplicated / skipped / dropped | ${v(c.videoFramesWritten)} / ${v(c.videoFramesDuplicated)} / ${v(c.videoFramesSkipped)} / ${v(c.videoFramesDropped)} |`,
    `| media clock ticks skipped (audio / video) | ${v(c.audioSkippedTicks)} / ${v(c.videoSkippedTicks)} |`,
    `| CPU ffmpeg / Node (% of one core, while recording) | ${v(c.ffmpegCpuPercent, ' %')} / ${v(c.nodeCpuPercent, ' %')} |`,
    `| finalize (remux to fast-start MP4) | ${v(r.summary.finalizeSec, ' s')}, ${v(r.summary.mp4Mb, ' MB')} |`,
    '',
  ];
  if (r.verdict.notes.length > 0) lines.push('## Notes', '', ...r.verdict.notes.map((n) => `- ${n}`), '');
  lines.push(
    '## Events',
    '',
    '| # | media time | flash in file | beep in file | offset | audio clock at flash push | slot given to the flash |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const e of r.events) {
    lines.push(
      `| ${e.index} | ${e.mediaSec} s | ${v(e.flashSec, ' s')} | ${v(e.beepSec, ' s')} | ${v(e.offsetMs, ' ms')} | ${v(e.flashPushedAtAudioMs, ' ms')} | ${v(e.flashSlotMs, ' ms')} |`,
    );
  }
  lines.push(
    '',
    'Offset = flash time − beep time in the MP4 (presentation times: video packet pts from ffprobe, audio ' +
      'stream start + decoded sample index); positive means the picture is late. Drift passes when the ' +
      'last-minute and first-minute means differ by less than half a frame period.',
    '',
  );
  return lines.join('\n');
}

export async function ffmpegVersion(): Promise<string> {
  try {
    const { stdout } = await runProcess('ffmpeg', ['-version'], { timeoutMs: 10_000 });
    return stdout.toString().split('\n')[0].split(' Copyright')[0];
  } catch {
    return 'ffmpeg (version unknown)';
  }
}

export interface ReportInputs {
  opts: Options;
  profile: OutputProfile;
  cap: CaptureResult;
  measured: Measurement;
  verdict: Judgement;
  loadAtStart: number[];
  finalizeSec: number;
  mp4Bytes: number;
}

export async function buildReport(inputs: ReportInputs): Promise<Report> {
  const { opts, profile, cap, measured: m, verdict: j, loadAtStart, finalizeSec, mp4Bytes } = inputs;
  const { events, eventsExpected } = m;
  const { paired, offsets, firstMin, lastMin, drift, maxAbs, fileVsSlotMax, offsetPass, driftPass, notes } =
    j;
  const framePeriodMs = 1000 / profile.fps;
  const videoSec = m.videoStream.duration !== undefined ? Number(m.videoStream.duration) : null;
  const audioSec = m.audioStream.duration !== undefined ? Number(m.audioStream.duration) : null;
  return {
    date: new Date().toISOString(),
    command: commandLine(),
    target: `|offset| ≤ ${TARGET_OFFSET_MS} ms for every event, and no drift (|last-minute − first-minute mean| < half a frame period, ${round(framePeriodMs / 2)} ms)`,
    settings: {
      minutes: opts.minutes,
      profile: opts.profile,
      width: profile.width,
      height: profile.height,
      fps: profile.fps,
      segmentSeconds: SEGMENT_SECONDS,
      eventEverySec: EVENT_EVERY_SEC,
      beep: `${BEEP_TICKS * 10} ms ${BEEP_HZ} Hz, amplitude ${BEEP_AMPLITUDE}`,
      flash: 'one frame period of Y=235 (else dark moving picture, mean Y ≈ 50)',
    },
    machine: {
      nproc: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGb: round(os.totalmem() / 2 ** 30),
      node: process.version,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      ffmpeg: await ffmpegVersion(),
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadavg(),
      maxLoad1mWhileRecording: cap.maxLoad1m,
    },
    summary: {
      eventsExpected,
      eventsPaired: paired.length,
      flashesFound: events.filter((e) => e.flashSec !== null).length,
      beepsFound: events.filter((e) => e.beepSec !== null).length,
      firstMinuteMeanOffsetMs: firstMin === null ? null : round(firstMin),
      lastMinuteMeanOffsetMs: lastMin === null ? null : round(lastMin),
      driftMs: drift === null ? null : round(drift),
      meanOffsetMs: offsets.length > 0 ? round(mean(offsets) as number) : null,
      minOffsetMs: offsets.length > 0 ? Math.min(...offsets) : null,
      maxOffsetMs: offsets.length > 0 ? Math.max(...offsets) : null,
      maxAbsOffsetMs: maxAbs,
      finalizeSec,
      mp4Mb: round(mp4Bytes / 1e6),
    },
    durations: {
      wallClockSec: round(cap.wallSec, 3),
      mediaSec: cap.mediaSec,
      fileSec: round(m.durationSec, 3),
      videoStreamSec: videoSec,
      audioStreamSec: audioSec,
      videoStartSec: m.videoStart,
      audioStartSec: m.audioStart,
    },
    capture: {
      ...cap.stats,
      audioTicks: cap.audioTicks,
      audioSkippedTicks: cap.audioSkippedTicks,
      videoTicks: cap.videoTicks,
      videoSkippedTicks: cap.videoSkippedTicks,
      ffmpegCpuPercent: cap.ffmpegCpuPercent,
      nodeCpuPercent: cap.nodeCpuPercent,
      interrupted: cap.interrupted,
    },
    checks: {
      videoFramesInFile: m.videoFrames,
      videoFramesDecoded: m.videoFramesDecoded,
      cfrMaxDeviationMs: round(m.cfrDeviation * 1000, 3),
      /** max |measured offset − offset predicted from the segmenter's slot|: ffmpeg + finalize error. */
      fileVsSegmenterSlotMaxMs: fileVsSlotMax === null ? null : round(fileVsSlotMax),
      audioSamplesDecoded: m.audioSamplesDecoded,
      audioDecodedSec: round(m.audioSamplesDecoded / AUDIO_SAMPLE_RATE, 3),
    },
    verdict: { offset: offsetPass ? 'PASS' : 'MISS', drift: driftPass ? 'PASS' : 'MISS', notes },
    events,
  };
}
