import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { settlesWithin, terminate } from '../../workers/kernel/process-control';
import type { RecordingWorkerMessage } from '../../workers/protocol/recording';
import { APP_CONFIG } from '../config/config.module';
import { childProcessEnv, type AppConfig } from '../config/config';
import { Logger } from '../common/logger';
import { projectRoot } from '../common/paths';
import { WorkerDeaths } from '../media/worker-deaths';
import { REDIS_URL } from '../redis/redis.module';

const MAX_RESTARTS = 5;
/**
 * A finalize in progress may take a while; past this, BullMQ's stalled-job check hands it on.
 * Never longer than the server's own shutdown bound leaves room for (2 s before it).
 */
const STOP_GRACE_MS = 20_000;
/** How long a stop waits for a worker that is still booting to be able to take SIGTERM. */
const BOOT_GRACE_MS = 10_000;

/**
 * In the zero-configuration default (RECORDING_WORKER=embedded) the server runs one recording
 * worker process (workers/recording) against its Redis, restarts it if it crashes, and stops it
 * with SIGTERM (running finalize jobs finish; queued ones wait in Redis for the next start).
 * An exit by a signal (even while stopping) or any exit it did not ask for is a death: logged at
 * error level and counted in mcu_worker_deaths_total{kind="recording"}.
 * With RECORDING_WORKER=external, workers run elsewhere (docker/compose.yaml).
 */
@Injectable()
export class RecordingWorkerProcess implements OnApplicationBootstrap, OnApplicationShutdown {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  /** Settles when the child can be stopped gracefully (it said ready) or is gone. */
  private stoppable: Promise<void> = Promise.resolve();
  private stopping = false;
  private restarts = 0;
  private readonly log = new Logger('recording-worker-process');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_URL) private readonly redisUrl: string,
    private readonly deaths: WorkerDeaths,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  onApplicationBootstrap(): void {
    // A node without the recording role leaves finalizing to the nodes or workers that have it.
    if (this.config.recording.worker === 'embedded' && this.config.node.roles.has('recording')) this.spawn();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    // A SIGTERM before its handlers are in place would kill it by the signal: a false death.
    await settlesWithin(this.stoppable, BOOT_GRACE_MS);
    await terminate(
      child,
      this.exited,
      Math.max(1000, Math.min(STOP_GRACE_MS, this.config.shutdownTimeoutMs - 2000)),
    );
  }

  private spawn(): void {
    const entry = path.join(projectRoot(), 'dist/workers/recording/main.js');
    const child = fork(entry, [], {
      env: childProcessEnv({
        REDIS_URL: this.redisUrl,
        RECORDINGS_DIR: this.config.recordingsDir,
        LOG_LEVEL: this.config.logLevel,
      }),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const ready = new Promise<void>((resolve) =>
      child.on('message', (m: RecordingWorkerMessage) => m.kind === 'ready' && resolve()),
    );
    this.stoppable = Promise.race([ready, this.exited]);
    this.log.info('recording worker started', { workerPid: child.pid });
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping && signal === null) return;
      this.deaths.record('recording', signal);
      this.log.error('recording worker died', {
        workerPid: child.pid,
        code,
        signal,
        stopping: this.stopping,
      });
      if (this.stopping) return;
      if (this.restarts++ < MAX_RESTARTS)
        setTimeout(() => !this.stopping && this.spawn(), 1000 * this.restarts).unref();
      else this.log.error('recording worker keeps exiting; not restarting it (finalize jobs wait in Redis)');
    });
  }
}
