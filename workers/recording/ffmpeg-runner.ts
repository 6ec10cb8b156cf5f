import ffmpeg from 'fluent-ffmpeg';
import { FfmpegError, runProcess, terminate } from '../kernel/process-control';

/**
 * The two ways the recording worker talks to ffmpeg: fluent-ffmpeg commands for encodes and
 * remuxes (with a deadline and SIGTERM→SIGKILL on overrun), and ffprobe's JSON output for facts
 * about a file.
 */

export interface FfmpegPaths {
  ffmpegPath?: string;
  ffprobePath?: string;
}

export interface RunOptions {
  timeoutMs: number;
  /** Seconds of output written so far, parsed from ffmpeg's "time=" progress lines. */
  onTime?: (seconds: number) => void;
}

/** Runs a prepared fluent-ffmpeg command to completion. Rejects with FfmpegError. */
export function runFfmpeg(command: ffmpeg.FfmpegCommand, opts: RunOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr: string[] = [];
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    let markEnded: () => void = () => undefined;
    const ended = new Promise<void>((res) => (markEnded = res));
    command.on('start', () => {
      timer = setTimeout(() => {
        timedOut = true;
        void terminate({ kill: (signal) => command.kill(signal) }, ended);
      }, opts.timeoutMs);
    });
    command.on('stderr', (line: string) => {
      stderr.push(line);
      if (stderr.length > 40) stderr = stderr.slice(-20);
      const seconds = parseTimemark(line);
      if (seconds !== undefined) opts.onTime?.(seconds);
    });
    command.on('end', () => {
      clearTimeout(timer);
      markEnded();
      resolve();
    });
    command.on('error', (err: Error) => {
      clearTimeout(timer);
      markEnded();
      const signal = /killed with signal (SIG[A-Z0-9]+)/.exec(err.message)?.[1] as NodeJS.Signals | undefined;
      const code = /exited with code (\d+)/.exec(err.message)?.[1];
      const tail = stderr.filter((l) => !l.startsWith('frame=') && !l.startsWith('size=')).slice(-4);
      const message = timedOut ? `ffmpeg timed out after ${opts.timeoutMs} ms` : err.message.split('\n')[0];
      reject(
        new FfmpegError(message, code === undefined ? null : Number(code), signal ?? null, tail.join(' | ')),
      );
    });
    command.run();
  });
}

/** Builds a fluent-ffmpeg command with our defaults (quiet except for errors and progress). */
export function newCommand(paths: FfmpegPaths, input?: string): ffmpeg.FfmpegCommand {
  const command = input === undefined ? ffmpeg() : ffmpeg(input);
  if (paths.ffmpegPath) command.setFfmpegPath(paths.ffmpegPath);
  // "info" is the lowest level that still prints the time= progress lines.
  return command.addOption('-hide_banner').addOption('-loglevel', 'info').addOption('-y');
}

export function parseTimemark(line: string): number | undefined {
  const m = /time=\s*(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(line);
  if (!m) return undefined;
  const seconds = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
  return m[1] === '-' ? 0 : seconds;
}

export interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  duration?: string;
}

export interface ProbeResult {
  durationSec: number;
  /** The earliest timestamp of any stream (seconds); NaN if ffprobe gave none. */
  startSec: number;
  sizeBytes: number;
  video?: ProbeStream;
  audio?: ProbeStream;
  streams: ProbeStream[];
}

export interface ProbeOptions {
  timeoutMs?: number;
  /**
   * The container, when it is known (`mpegts` for our segments): ffprobe's detection needs more
   * than ten TS packets, so a very short last segment would otherwise read as "invalid data".
   */
  format?: string;
}

/** ffprobe a file. Rejects with FfmpegError if ffprobe cannot read it. */
export async function probe(file: string, paths: FfmpegPaths, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const { stdout } = await runProcess(
    paths.ffprobePath ?? 'ffprobe',
    [
      '-v',
      'error',
      ...(opts.format ? ['-f', opts.format] : []),
      '-show_entries',
      'format=start_time,duration,size:stream=codec_type,codec_name,width,height,duration',
      '-of',
      'json',
      file,
    ],
    { timeoutMs: opts.timeoutMs ?? 30000 },
  );
  const json = JSON.parse(stdout.toString('utf8')) as {
    format?: { start_time?: string; duration?: string; size?: string };
    streams?: ProbeStream[];
  };
  const streams = json.streams ?? [];
  return {
    durationSec: Number(json.format?.duration ?? NaN),
    startSec: Number(json.format?.start_time ?? NaN),
    sizeBytes: Number(json.format?.size ?? NaN),
    video: streams.find((s) => s.codec_type === 'video'),
    audio: streams.find((s) => s.codec_type === 'audio'),
    streams,
  };
}
