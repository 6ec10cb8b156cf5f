import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import {
  WORKER_CLOSE_TIMEOUT_MS,
  WORKER_EXIT_BAD_SETTINGS,
  type LogLevel,
  type MediaMethod,
  type MediaNotification,
  type MediaRequestMap,
  type NodeNetworkSettings,
  type RoomMediaSettings,
} from '../../workers/protocol/media';
import { UnavailableError } from '../common/errors';
import { Logger } from '../common/logger';
import { projectRoot } from '../common/paths';
import { childProcessEnvDefaults } from '../config/config';
import { settlesWithin, terminate } from '../../workers/kernel/process-control';
import { WorkerChannel } from './worker-channel';

export type WorkerState = 'starting' | 'running' | 'closing' | 'closed' | 'died';

/** After SIGTERM, a worker that is not gone this much later gets SIGKILL. */
const TERM_GRACE_MS = 3000;
/**
 * The compensating stop of a start the control plane gave up on (an egress's) may wait behind that
 * start and a graceful stop: the worker's own close bound. A recording's waits as long as any
 * recording stop (RECORDING_STOP_REQUEST_MS: its ffmpeg may have a backlog to encode). Sent at
 * most ABANDONED_STOP_ATTEMPTS times while unanswered (what it stops ends regardless: the
 * worker's death, or the room's next start).
 */
export const ABANDONED_STOP_MS = WORKER_CLOSE_TIMEOUT_MS;
export const ABANDONED_STOP_ATTEMPTS = 5;
/**
 * glibc gives every thread that allocates its own malloc arena, up to 8 per core, and keeps what
 * each one grew to. A media worker's native threads (libwebrtc's per peer connection, the codec
 * addon's) do: in the soak scenario its RSS climbed in steps and stayed (203 -> 270 MB in 20
 * minutes on a quiet machine; 267 -> 430 MB in 30 under load); with two arenas it stayed at
 * 185-218 MB, memory went back after recordings, and the server's CPU was the same (47.2 vs
 * 48.9 % of a core; docs/overload.md). A MALLOC_ARENA_MAX in the environment wins.
 */
const MEDIA_WORKER_MALLOC_ARENAS = '2';

export interface MediaWorkerOptions {
  roomId: string;
  settings: RoomMediaSettings;
  /** This node's ANNOUNCED_IP and RTC port range; default: neither. */
  network?: NodeNetworkSettings;
  /** Compiled worker entry (dist/workers/media/main.js). */
  entry?: string;
  requestTimeoutMs: number;
  startTimeoutMs: number;
  logLevel: LogLevel;
}

/** How a worker ended when it died (see MediaWorker.onExit). */
export interface WorkerDeath {
  reason: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface MediaWorkerEvents {
  /** Unexpected end: by a signal at any moment, or an exit while running. Emitted once. */
  died: [death: WorkerDeath];
  /** Exited as asked (after close()). */
  closed: [];
}

/** The compiled worker, also when this file runs from src/ under ts-jest (tests build first). */
export function defaultWorkerEntry(): string {
  return path.join(projectRoot(), 'dist/workers/media/main.js');
}

/**
 * One media worker process hosting one room. Lifecycle: starting → running → closing → closed,
 * or → died (emitted once as 'died'): an exit by a signal is a death in every state, closing
 * included, and so is any exit while running. It is usable only after the worker says it is
 * ready and has accepted the room settings. Notifications go to the one handler given at
 * construction, in order.
 */
export class MediaWorker extends EventEmitter<MediaWorkerEvents> {
  state: WorkerState = 'starting';
  private child!: ChildProcess;
  private channel!: WorkerChannel;
  private readonly log: Logger;
  private exited!: Promise<void>;

  constructor(
    private readonly opts: MediaWorkerOptions,
    private readonly onNotification: (n: MediaNotification) => void = () => undefined,
  ) {
    super();
    this.log = new Logger('media-supervisor', { roomId: opts.roomId });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get roomId(): string {
    return this.opts.roomId;
  }

  async start(): Promise<void> {
    const entry = this.opts.entry ?? defaultWorkerEntry();
    // The room id on the command line makes `ps` show which room a worker hosts.
    this.child = fork(entry, ['--room', this.opts.roomId], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
      env: childProcessEnvDefaults({ MALLOC_ARENA_MAX: MEDIA_WORKER_MALLOC_ARENAS }),
    });
    this.channel = new WorkerChannel(this.child, this.opts.requestTimeoutMs);
    this.channel.on('notification', this.onNotification);
    this.channel.on('fatal', (e) => this.log.error('media worker reported a fatal error', { err: e }));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.onExit(code, signal);
        resolve();
      });
    });

    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        this.child.kill('SIGKILL');
        reject(new UnavailableError(`media worker did not start within ${this.opts.startTimeoutMs} ms`));
      }, this.opts.startTimeoutMs);
      const onReady = () => {
        cleanup();
        resolve();
      };
      const onExit = (code: number | null, signal: string | null) => {
        cleanup();
        const why =
          code === WORKER_EXIT_BAD_SETTINGS
            ? 'rejected its settings'
            : `exited (code ${code}, signal ${signal})`;
        reject(new UnavailableError(`media worker ${why} during start-up`));
      };
      const onError = (err: Error) => {
        cleanup();
        reject(new UnavailableError(`media worker could not be started: ${err.message}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.channel.off('ready', onReady);
        this.child.off('exit', onExit);
        this.child.off('error', onError);
      };
      this.channel.once('ready', onReady);
      this.child.once('exit', onExit);
      this.child.once('error', onError);
    });
    await this.request('room.init', {
      roomId: this.opts.roomId,
      settings: this.opts.settings,
      network: this.opts.network ?? { announcedIp: null, portRange: null },
      logLevel: this.opts.logLevel,
    });
    if (this.state === 'starting') this.state = 'running';
    this.log.info('media worker running', { workerPid: this.pid });
  }

  /** `timeoutMs`: instead of MEDIA_REQUEST_TIMEOUT_MS, for requests that may take longer. */
  request<M extends MediaMethod>(
    method: M,
    data: MediaRequestMap[M]['req'],
    timeoutMs?: number,
  ): Promise<MediaRequestMap[M]['res']> {
    return this.channel.request(method, data, timeoutMs);
  }

  /**
   * Asks the worker to close its peers and recorder and exit; SIGTERM if it has not after
   * graceMs, SIGKILL 3 s later (the ladder BullMQ uses for its sandboxed children).
   */
  async close(graceMs = WORKER_CLOSE_TIMEOUT_MS): Promise<void> {
    if (this.state === 'closed' || this.state === 'died') return;
    this.state = 'closing';
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.channel.request('worker.close', {}, graceMs).catch(() => undefined);
      if (!(await settlesWithin(this.exited, graceMs)))
        await terminate(this.child, this.exited, TERM_GRACE_MS);
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.channel.close(`exit code ${code} signal ${signal}`);
    const was = this.state;
    // A signal is never a clean close: a SIGSEGV in libwebrtc while peers close, or our own
    // SIGKILL after a worker that would not stop, must show up as a death.
    if (signal === null && (was === 'closing' || was === 'starting')) {
      this.state = 'closed';
      this.log.info('media worker exited', { workerPid: this.pid, code });
      if (was === 'closing') this.emit('closed');
      return;
    }
    this.state = 'died';
    const reason = signal ? `killed by ${signal}` : `exited with code ${code}`;
    this.log.error('media worker died', { workerPid: this.pid, code, signal, state: was });
    this.emit('died', { reason, code, signal });
  }
}
