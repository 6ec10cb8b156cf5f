/**
 * Structured logging: one JSON line per event on stdout, with the ids that locate it
 * (roomId, participantId, recordingId, workerPid...). Used by every process kind so that
 * `grep '"roomId":"abc"'` follows a room across the control plane and its worker.
 */
import type { LogLevel } from '../protocol/media';

export type { LogLevel };
export type LogFields = Record<string, unknown>;

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold: LogLevel = 'info';
let sink: (line: string) => void = (line) => process.stdout.write(line + '\n');

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

/** Tests redirect log lines here to assert on them or keep jest output clean. */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

export class Logger {
  constructor(
    private readonly component: string,
    private readonly base: LogFields = {},
  ) {}

  child(fields: LogFields): Logger {
    return new Logger(this.component, { ...this.base, ...fields });
  }

  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (order[level] < order[threshold]) return;
    const entry: LogFields = {
      time: new Date().toISOString(),
      level,
      pid: process.pid,
      component: this.component,
      msg,
      ...this.base,
      ...fields,
    };
    if (entry.err instanceof Error)
      entry.err = { name: entry.err.name, message: entry.err.message, stack: entry.err.stack };
    sink(JSON.stringify(entry));
  }
}
