import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { APP_CONFIG } from '../config/config.module';
import { childProcessEnv, type AppConfig } from '../config/config';
import { Logger } from '../common/logger';
import { projectRoot } from '../common/paths';
import { REDIS_URL } from '../redis/redis.module';

const MAX_RESTARTS = 5;

/**
 * In the zero-configuration default (RECORDING_WORKER=embedded) the server runs one recording
 * worker process (workers/recording) against its Redis, restarts it if it crashes, and stops it
 * with SIGTERM (running finalize jobs finish; queued ones wait in Redis for the next start).
 * With RECORDING_WORKER=external, workers run elsewhere (docker/compose.yaml).
 */
@Injectable()
export class RecordingWorkerProcess implements OnApplicationBootstrap, OnApplicationShutdown {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restarts = 0;
  private readonly log = new Logger('recording-worker-process');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_URL) private readonly redisUrl: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  onApplicationBootstrap(): void {
    if (this.config.recording.worker === 'embedded') this.spawn();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      // A finalize in progress may take a while; after 20 s BullMQ's stalled-job check
      // hands it to the next worker instead.
      const kill = setTimeout(() => child.kill('SIGKILL'), 20000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
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
    this.log.info('recording worker started', { workerPid: child.pid });
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping) return;
      this.log.error('recording worker exited', { workerPid: child.pid, code, signal });
      if (this.restarts++ < MAX_RESTARTS) setTimeout(() => !this.stopping && this.spawn(), 1000 * this.restarts).unref();
      else this.log.error('recording worker keeps exiting; not restarting it (finalize jobs wait in Redis)');
    });
  }
}
