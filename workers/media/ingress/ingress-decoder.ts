import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../../kernel/logger';
import { settlesWithin, terminate } from '../../kernel/process-control';
import type { RtspTransport } from '../../protocol/media';
import type { I420Frame } from '../engine/video/i420';

/** FLV kept for a restart of the decoder before its first output (≈ 10 s at 6 Mbit/s). */
const MAX_HEAD_BYTES = 8 * 1024 * 1024;

/** 10 ms of mono 48 kHz: the room's audio tick. */
export const INGRESS_AUDIO_SAMPLES = 480;

/** A source ffmpeg pulls (see urlInputArgs). */
export interface PullInput {
  url: string;
  realtime: boolean;
  loop: boolean;
  /** rtsp(s) only; null: TCP, which crosses NATs and firewalls and loses nothing. */
  rtspTransport: RtspTransport | null;
}

export interface IngressDecoderOptions {
  /** `pipe`: FLV written with write() (an RTMP publish); `url`: ffmpeg pulls it (rtsp, srt, http, file). */
  input: { kind: 'pipe' } | ({ kind: 'url' } & PullInput);
  /** The decoded picture's size; the source is scaled to fit and padded (aspect kept). */
  width: number;
  height: number;
  logger: Logger;
  onFrame(frame: I420Frame): void;
  /** Exactly INGRESS_AUDIO_SAMPLES of mono 48 kHz; the array is reused after the call. */
  onAudio(samples: Int16Array): void;
  onExit(code: number | null, signal: NodeJS.Signals | null, stderr: string): void;
}

/**
 * Decodes a non-WebRTC source (an RTMP publish as FLV, or a URL ffmpeg pulls) into raw I420
 * frames and 10 ms PCM frames for the room's engine: video on stdout, audio on fd 3.
 *
 * Low delay: no input buffering beyond the demuxer's (`-fflags nobuffer`, a small probe),
 * frames passed on as decoded (`-fps_mode passthrough`: no duplication to a constant rate, the
 * room's clock takes the latest frame), every packet flushed.
 */
export class IngressDecoder {
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;
  private stderrTail: string[] = [];
  private readonly frameBytes: number;
  private videoParts: Buffer[] = [];
  private videoHave = 0;
  private readonly frame: I420Frame;
  private audioRest: Buffer = Buffer.alloc(0);
  private readonly audioOut = new Int16Array(INGRESS_AUDIO_SAMPLES);
  framesDecoded = 0;
  private readonly drainListeners: (() => void)[] = [];
  /** Which raw outputs ffmpeg writes; a kind the source lacks is dropped (see start()). */
  private outputs: ('video' | 'audio')[] = ['video', 'audio'];
  /** True once decoded media came out: from then on nothing is replayed. */
  private started = false;
  private head: Buffer[] = [];
  private headBytes = 0;

  constructor(private readonly opts: IngressDecoderOptions) {
    this.frameBytes = (opts.width * opts.height * 3) / 2;
    this.frame = { width: opts.width, height: opts.height, data: new Uint8Array(this.frameBytes) };
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  start(): void {
    const { width: w, height: h, input } = this.opts;
    const inputArgs = input.kind === 'pipe' ? ['-f', 'flv', '-i', 'pipe:0'] : urlInputArgs(input);
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostats',
      '-fflags',
      'nobuffer',
      '-flags',
      'low_delay',
      '-probesize',
      '65536',
      '-analyzeduration',
      '200000',
      ...inputArgs,
      ...(this.outputs.includes('video')
        ? [
            '-map',
            '0:v:0?',
            '-vf',
            `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,format=yuv420p`,
            '-fps_mode',
            'passthrough',
            '-flush_packets',
            '1',
            '-f',
            'rawvideo',
            'pipe:1',
          ]
        : []),
      ...(this.outputs.includes('audio')
        ? ['-map', '0:a:0?', '-ac', '1', '-ar', '48000', '-flush_packets', '1', '-f', 's16le', 'pipe:3']
        : []),
    ];
    const proc = spawn('ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('close', () => resolve()));
    proc.stdin?.on('error', (err) => this.opts.logger.debug('ingress decoder stdin closed', { err }));
    proc.stdin?.on('drain', () => this.drainListeners.forEach((l) => l()));
    proc.stdout?.on('data', (b: Buffer) => this.onVideo(b));
    (proc.stdio[3] as Readable).on('data', (b: Buffer) => this.onAudioBytes(b));
    proc.stderr?.on('data', (b: Buffer) => {
      for (const line of b.toString('utf8').split('\n')) {
        const t = line.trim();
        if (!t) continue;
        this.stderrTail.push(t);
        if (this.stderrTail.length > 6) this.stderrTail.shift();
      }
    });
    proc.once('error', (err) => this.opts.logger.error('ingress decoder could not start', { err }));
    proc.once('close', (code, signal) => {
      if (this.stopping) return;
      const stderr = this.stderrTail.join(' | ');
      // A source without audio (many cameras) or without video: its optional map gave that
      // output nothing, which ffmpeg refuses. Start again without it, with the same bytes.
      const empty = /Output file #(\d+) does not contain any stream/.exec(stderr);
      if (empty && !this.started && this.outputs.length > 1) {
        const kind = this.outputs[Number(empty[1])];
        this.outputs = this.outputs.filter((o) => o !== kind);
        this.opts.logger.info('ingress source has no stream of this kind; decoding without it', { kind });
        this.stderrTail = [];
        this.start();
        for (const chunk of this.head) this.proc?.stdin?.write(chunk);
        return;
      }
      this.opts.onExit(code, signal, stderr);
    });
  }

  /** Called when ffmpeg's stdin has room again after write() returned false. */
  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }

  /** FLV bytes of an RTMP publish (pipe input). Back-pressure is the publisher's TCP window. */
  write(flv: Buffer): boolean {
    if (!this.started && this.headBytes < MAX_HEAD_BYTES) {
      // Kept until media comes out, in case ffmpeg must start again (a source without audio).
      this.head.push(flv);
      this.headBytes += flv.length;
    }
    const stdin = this.proc?.stdin as Writable | null | undefined;
    if (!stdin || stdin.destroyed) return false;
    return stdin.write(flv);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.stdin?.end();
    if (!(await settlesWithin(this.exited, 2000))) await terminate(proc, this.exited, 2000);
  }

  private onVideo(b: Buffer): void {
    let off = 0;
    while (off < b.length) {
      const take = Math.min(this.frameBytes - this.videoHave, b.length - off);
      this.videoParts.push(b.subarray(off, off + take));
      this.videoHave += take;
      off += take;
      if (this.videoHave === this.frameBytes) {
        let at = 0;
        for (const part of this.videoParts) {
          this.frame.data.set(part, at);
          at += part.length;
        }
        this.videoParts = [];
        this.videoHave = 0;
        this.framesDecoded++;
        this.markStarted();
        this.opts.onFrame(this.frame);
      }
    }
  }

  private markStarted(): void {
    if (this.started) return;
    this.started = true;
    this.head = [];
  }

  private onAudioBytes(b: Buffer): void {
    this.markStarted();
    const data = this.audioRest.length ? Buffer.concat([this.audioRest, b]) : b;
    const bytes = INGRESS_AUDIO_SAMPLES * 2;
    let off = 0;
    for (; off + bytes <= data.length; off += bytes) {
      for (let i = 0; i < INGRESS_AUDIO_SAMPLES; i++) this.audioOut[i] = data.readInt16LE(off + i * 2);
      this.opts.onAudio(this.audioOut);
    }
    this.audioRest = Buffer.from(data.subarray(off));
  }
}

/**
 * Pull input: paced files/HTTP, RTSP over TCP unless UDP is asked for, an I/O timeout so that a
 * stalled source ends (RTSP: `-timeout` covers the RTSP connection and, over UDP, the wait for
 * RTP packets).
 */
function urlInputArgs(input: PullInput): string[] {
  const args: string[] = [];
  if (input.realtime) args.push('-re');
  if (input.loop) args.push('-stream_loop', '-1');
  if (/^rtsps?:/.test(input.url))
    args.push('-rtsp_transport', input.rtspTransport ?? 'tcp', '-timeout', '5000000');
  else if (/^(srt|https?):/.test(input.url)) args.push('-rw_timeout', '5000000');
  args.push('-i', input.url);
  return args;
}
