import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import type {
  MediaEvent,
  MediaMethod,
  MediaNotificationMap,
  MediaRequestMap,
  RoomMediaSettings,
  SerializedError,
} from '../../workers/protocol/media';
import { WORKER_EXIT_BAD_SETTINGS } from '../../workers/protocol/media';
import { UnavailableError } from '../common/errors';
import { Logger } from '../common/logger';
import { projectRoot } from '../common/paths';
import { WorkerChannel } from './worker-channel';

export type WorkerState = 'starting' | 'running' | 'closing' | 'closed' | 'died';

export interface MediaWorkerOptions {
  roomId: string;
  settings: RoomMediaSettings;
  /** Compiled worker entry (dist/workers/media/main.js). */
  entry?: string;
  requestTimeoutMs: number;
  startTimeoutMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/** The compiled worker, also when this file runs from src/ under ts-jest (tests build first). */
export function defaultWorkerEntry(): string {
  return path.join(projectRoot(), 'dist/workers/media/main.js');
}

/**
 * One media worker process hosting one room. Lifecycle: starting → running → closing → closed,
 * or → died on an unexpected exit (emitted once as 'died' with the reason). It is usable only
 * after the worker says it is ready and has accepted the room settings.
 */
export class MediaWorker extends EventEmitter {
  state: WorkerState = 'starting';
  private child!: ChildProcess;
  private channel!: WorkerChannel;
  private readonly log: Logger;
  private exited!: Promise<void>;

  constructor(private readonly opts: MediaWorkerOptions) {
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
    });
    this.channel = new WorkerChannel(this.child, this.opts.requestTimeoutMs);
    this.channel.on('notification', (event: MediaEvent, data: unknown) =>
      this.emit('notification', event, data),
    );
    this.channel.on('fatal', (e: SerializedError) =>
      this.log.error('media worker reported a fatal error', { err: e }),
    );
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
      logLevel: this.opts.logLevel,
    });
    if (this.state === 'starting') this.state = 'running';
    this.log.info('media worker running', { workerPid: this.pid });
  }

  request<M extends MediaMethod>(
    method: M,
    data: MediaRequestMap[M]['req'],
  ): Promise<MediaRequestMap[M]['res']> {
    return this.channel.request(method, data);
  }

  onNotification(handler: <E extends MediaEvent>(event: E, data: MediaNotificationMap[E]) => void): void {
    this.on('notification', handler);
  }

  /**
   * Asks the worker to close its peers and exit; SIGTERM after graceMs, SIGKILL after twice that
   * (the same ladder BullMQ uses for its sandboxed children).
   */
  async close(graceMs = 3000): Promise<void> {
    if (this.state === 'closed' || this.state === 'died') return;
    this.state = 'closing';
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.channel.request('worker.close', {}, graceMs).catch(() => undefined);
      const term = setTimeout(() => this.child.kill('SIGTERM'), graceMs);
      const kill = setTimeout(() => this.child.kill('SIGKILL'), graceMs * 2);
      await this.exited;
      clearTimeout(term);
      clearTimeout(kill);
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.channel.close(`exit code ${code} signal ${signal}`);
    if (this.state === 'closing' || this.state === 'starting') {
      const wasStarting = this.state === 'starting';
      this.state = 'closed';
      this.log.info('media worker exited', { workerPid: this.pid, code, signal });
      if (!wasStarting) this.emit('closed');
      return;
    }
    this.state = 'died';
    const reason = signal ? `killed by ${signal}` : `exited with code ${code}`;
    this.log.error('media worker died', { workerPid: this.pid, code, signal });
    this.emit('died', reason);
  }
}
