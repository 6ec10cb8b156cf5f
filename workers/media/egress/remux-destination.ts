import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { EgressState, EgressTarget } from '../../protocol/media';
import { EGRESS_HLS_PLAYLIST } from '../../protocol/media';
import { ConflictError } from '../../kernel/errors';
import type { Logger } from '../../kernel/logger';
import { settlesWithin, terminate } from '../../kernel/process-control';
import type { TsFanout } from './ts-fanout';

/** Bytes a remux may leave unread on its stdin (~10 s at 6 Mbit/s) before it is resynchronised. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Backoff between RTMP reconnect attempts: 0.5, 1, 2, 4, then every 5 s. */
const BACKOFF_MS = [500, 1000, 2000, 4000, 5000];
const STOP_TIMEOUT_MS = 5000;
/** A far end that takes this long to accept data is treated as gone (ffmpeg's rw_timeout, µs). */
const RW_TIMEOUT_US = 10_000_000;

export type StateListener = (state: EgressState, error: string | null) => void;

/**
 * One egress destination: an ffmpeg that copies (`-c copy`) the shared encode from its stdin to
 * an RTMP server or to an HLS folder. The encode is not touched when this process fails: an
 * RTMP destination that drops restarts with backoff for up to `reconnectSeconds`, attaching
 * again at the next keyframe; an HLS one (local files) that dies has failed.
 *
 * spawn rather than fluent-ffmpeg: the process is a plain pipe with a fixed argument list, and
 * its stdin, stderr and exit are what this class is about.
 */
export class RemuxDestination {
  state: EgressState = 'starting';
  private proc: ChildProcessWithoutNullStreams | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stderrTail: string[] = [];
  private everActive = false;
  private droppedAt = 0;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  restarts = 0;

  constructor(
    readonly id: string,
    private readonly target: EgressTarget,
    private readonly fanout: TsFanout,
    private readonly log: Logger,
    private readonly onState: StateListener,
  ) {}

  async start(): Promise<void> {
    if (this.target.type === 'hls') await fs.mkdir(this.target.dir, { recursive: true });
    // A stop that came while the folder was made has already reported `stopped`: no remux.
    if (this.stopping) throw new ConflictError(`egress ${this.id} was stopped while starting`);
    this.spawnRemux();
  }

  /** Ends the remux cleanly (an HLS playlist gets its end tag), then reports stopped. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.fanout.detach(this.id);
    const proc = this.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.stdin.end();
      if (!(await settlesWithin(this.exited, STOP_TIMEOUT_MS))) {
        const used = await terminate(proc, this.exited);
        this.log.warn('egress remux did not stop in time', { used });
      }
    }
    if (this.state !== 'failed') this.setState('stopped', null);
  }

  /** The encode died: nothing more will come, the destination has failed. */
  async fail(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.fanout.detach(this.id);
    if (this.proc && this.proc.exitCode === null) await terminate(this.proc, this.exited, 2000);
    this.setState('failed', reason);
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  private spawnRemux(): void {
    const args = [
      '-hide_banner',
      '-nostats',
      '-loglevel',
      'info',
      // The input is a live encode that starts at a keyframe with PAT/PMT: little to probe.
      '-fflags',
      'nobuffer',
      '-analyzeduration',
      '500000',
      '-f',
      'mpegts',
      '-i',
      'pipe:0',
      '-map',
      '0',
      '-c',
      'copy',
      ...this.outputArgs(),
    ];
    const proc = spawn('ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    this.stderrTail = [];
    this.exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
    proc.stdin.on('error', (err) => this.log.debug('egress remux stdin closed', { err }));
    proc.stdout.resume();
    let partial = '';
    proc.stderr.on('data', (b: Buffer) => {
      const lines = (partial + b.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.onStderr(line);
    });
    proc.once('error', (err) => this.log.error('egress remux could not start', { err }));
    proc.once('close', (code, signal) => this.onExit(code, signal));
    this.fanout.attach(this.id, {
      write: (chunk) => {
        if (proc.stdin.destroyed || !proc.stdin.writable) return false;
        if (proc.stdin.writableLength > MAX_BUFFERED_BYTES) {
          this.log.warn('egress destination is not keeping up; resynchronising at the next keyframe', {
            bufferedBytes: proc.stdin.writableLength,
          });
          this.fanout.resync(this.id);
          return false;
        }
        return proc.stdin.write(chunk);
      },
    });
    this.log.info('egress remux started', { pid: proc.pid, attempt: this.attempt });
  }

  private outputArgs(): string[] {
    const t = this.target;
    if (t.type === 'rtmp') {
      return ['-rw_timeout', String(RW_TIMEOUT_US), '-f', 'flv', '-flvflags', 'no_duration_filesize', t.url];
    }
    return [
      '-f',
      'hls',
      '-hls_time',
      String(t.segmentSeconds),
      '-hls_list_size',
      String(t.listSize),
      '-hls_flags',
      'delete_segments+independent_segments+temp_file',
      '-hls_segment_filename',
      path.join(t.dir, 'seg-%05d.ts'),
      path.join(t.dir, EGRESS_HLS_PLAYLIST),
    ];
  }

  private onStderr(line: string): void {
    // ffmpeg prints the output's description once its header is written: for RTMP that is after
    // the connect and publish handshake, i.e. the far end accepts media.
    if (line.startsWith('Output #0')) {
      this.everActive = true;
      this.attempt = 0;
      this.droppedAt = 0;
      this.setState('active', null);
      return;
    }
    const t = line.trim();
    if (!t) return;
    this.stderrTail.push(t);
    if (this.stderrTail.length > 8) this.stderrTail.shift();
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.fanout.detach(this.id);
    if (this.stopping) return;
    const reason = `ffmpeg exited (code ${code}, signal ${signal}): ${this.reason()}`;
    const now = Date.now();
    if (this.target.type === 'hls' || !this.everActive) {
      // HLS writes local files: a death there is not a network blip. An RTMP target that never
      // accepted the stream is misconfigured or unreachable: retrying would hide that.
      this.log.error('egress destination failed', { code, signal, reason });
      this.stopping = true;
      this.setState('failed', reason);
      return;
    }
    if (this.droppedAt === 0) this.droppedAt = now;
    const elapsedS = (now - this.droppedAt) / 1000;
    if (elapsedS >= this.target.reconnectSeconds) {
      this.log.error('egress RTMP target gone for too long; giving up', { elapsedS, reason });
      this.stopping = true;
      this.setState('failed', `reconnect gave up after ${Math.round(elapsedS)} s: ${reason}`);
      return;
    }
    this.setState('reconnecting', reason);
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt++;
    this.restarts++;
    this.log.warn('egress RTMP target dropped; reconnecting', {
      delayMs: delay,
      attempt: this.attempt,
      reason,
    });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopping) this.spawnRemux();
    }, delay);
  }

  private reason(): string {
    // The last lines say why (Connection refused, Broken pipe, Input/output error...); an RTMP
    // URL's path holds the stream key, which stays out of logs and webhooks.
    const text = this.stderrTail.slice(-3).join(' | ') || 'no output';
    return this.target.type === 'rtmp' ? text.split(this.target.url).join(redactUrl(this.target.url)) : text;
  }

  private setState(state: EgressState, error: string | null): void {
    if (this.state === state) return;
    if (this.state === 'stopped' || this.state === 'failed') return;
    this.state = state;
    this.onState(state, error);
  }
}

/** scheme://host[:port]/… : what may be logged of an RTMP URL (its path holds the stream key). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(invalid url)';
  }
}
