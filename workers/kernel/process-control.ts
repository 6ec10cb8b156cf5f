import { spawn } from 'node:child_process';

/**
 * Helpers to run and stop external processes (ffmpeg, ffprobe) the same way everywhere: a
 * deadline on every run, and stopping is SIGTERM first (ffmpeg then closes its outputs cleanly)
 * and SIGKILL only if it did not exit within a grace period.
 */

export const DEFAULT_TERM_GRACE_MS = 5000;

/** A child process (ffmpeg/ffprobe) failed; `signal` is set when it was killed. */
export class FfmpegError extends Error {
  override readonly name = 'FfmpegError';
  constructor(
    message: string,
    readonly exitCode: number | null = null,
    readonly signal: NodeJS.Signals | null = null,
    readonly stderrTail = '',
  ) {
    super(stderrTail ? `${message}: ${stderrTail}` : message);
  }
}

/** Resolves true if `promise` settled within `ms`, false otherwise. Never rejects. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

/**
 * SIGTERM, then SIGKILL if the process has not exited after `graceMs`. `exited` must settle when
 * the process exits. Returns the last signal that was needed.
 */
export async function terminate(
  target: { kill(signal: NodeJS.Signals): unknown },
  exited: Promise<unknown>,
  graceMs = DEFAULT_TERM_GRACE_MS,
): Promise<'SIGTERM' | 'SIGKILL'> {
  safeKill(target, 'SIGTERM');
  if (await settlesWithin(exited, graceMs)) return 'SIGTERM';
  safeKill(target, 'SIGKILL');
  await exited.catch(() => undefined);
  return 'SIGKILL';
}

function safeKill(target: { kill(signal: NodeJS.Signals): unknown }, signal: NodeJS.Signals): void {
  try {
    target.kill(signal);
  } catch {
    // Already gone (ESRCH) or never started: nothing left to stop.
  }
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs a short-lived command (ffprobe, a one-off ffmpeg) to completion and collects its output.
 * Rejects with FfmpegError on a non-zero exit, a signal, or when it overran `timeoutMs` (then it
 * was terminated with SIGTERM/SIGKILL).
 */
export function runProcess(command: string, args: string[], opts: { timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    let timedOut = false;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      // Only the tail matters for an error message; keep memory bounded on chatty runs.
      err = (err + b.toString('utf8')).slice(-8000);
    });
    const exited = new Promise<void>((res) => child.once('close', () => res()));
    const timer = setTimeout(() => {
      timedOut = true;
      void terminate(child, exited);
    }, opts.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new FfmpegError(`${command} could not be started: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new FfmpegError(`${command} timed out after ${opts.timeoutMs} ms`, code, signal, tail(err)));
      } else if (code === 0) {
        resolve({ stdout: Buffer.concat(out), stderr: err });
      } else {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(new FfmpegError(`${command} ${how}`, code, signal, tail(err)));
      }
    });
  });
}

/** Last few non-empty lines of an stderr transcript, for error messages. */
export function tail(stderr: string, lines = 4): string {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(-lines)
    .join(' | ');
}
