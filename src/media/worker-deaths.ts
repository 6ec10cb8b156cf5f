import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';

export type WorkerKind = 'media' | 'recording';

/**
 * Deaths of the worker processes this server supervises, counted by kind and by the signal that
 * ended them (`none` for an unexpected exit with a code): `mcu_worker_deaths_total{kind,signal}`.
 * A death is an exit by a signal at any moment (a SIGSEGV while closing is still a crash) or any
 * exit the supervisor did not ask for. The supervisors log each one at error level with its
 * process and room; this only counts, so that a crash can never go unnoticed on a dashboard or
 * in the test tier (which fails on any unexpected death).
 */
@Injectable()
export class WorkerDeaths {
  /** Registered by MetricsService in its registry (several servers may share a test process). */
  readonly counter = new Counter({
    name: 'mcu_worker_deaths_total',
    help: 'Worker processes that died (exit by a signal, or an exit nobody asked for), by kind and signal',
    labelNames: ['kind', 'signal'] as const,
    registers: [],
  });

  record(kind: WorkerKind, signal: NodeJS.Signals | null): void {
    this.counter.inc({ kind, signal: signal ?? 'none' });
  }
}
