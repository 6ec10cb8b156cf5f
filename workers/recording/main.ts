/**
 * Entry of a standalone recording worker process (`npm run worker:recording`). All the logic is in
 * startRecordingWorker; this file only wires configuration, signals and exit codes.
 *
 * Exit codes: 0 after SIGTERM/SIGINT (running jobs finished), 1 on an uncaught error,
 * 78 (EX_CONFIG) on bad or missing configuration. It does not die by the signal it is sent: the
 * handlers are in place before the worker (BullMQ, ffmpeg) is even loaded, and a server that
 * started it hears `ready` at that moment (RecordingWorkerMessage), so stopping it early is clean.
 */
import type { RecordingWorkerMessage } from '../protocol/recording';
import { Logger, setLogLevel } from '../kernel/logger';
import { loadRecordingWorkerConfig, RecordingWorkerConfigError } from './config';
import type { RecordingWorkerHandle } from './recording-worker';

const EXIT_CONFIG = 78;
const logger = new Logger('recording-worker');
let handle: RecordingWorkerHandle | null = null;
let stopping = false;

process.on('uncaughtException', (err) => {
  logger.error('uncaught exception', { err });
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  logger.error('unhandled rejection', { err });
  process.exit(1);
});

function shutdown(why: string): void {
  if (stopping) return; // a second signal does not interrupt the graceful close
  stopping = true;
  if (!handle) {
    // Still starting: no job is running yet (an interrupted one is retried by BullMQ as stalled).
    logger.info('recording worker stopping before it started', { signal: why });
    process.exit(0);
  }
  logger.info('recording worker stopping: finishing current jobs', { signal: why });
  handle.close().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error('recording worker close failed', { err });
      process.exit(1);
    },
  );
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

/**
 * Started by the server (embedded mode): if the server goes away, so does this worker, even
 * while it is still starting; unfinished jobs stay in Redis for the next start. Its Redis may be
 * gone too (the embedded one dies with the server), so closing can hang on reconnects: a few
 * seconds, then exit; an interrupted job is retried by BullMQ as stalled.
 */
if (process.send) {
  process.on('disconnect', () => {
    setTimeout(() => process.exit(0), 5000).unref();
    shutdown('disconnect');
  });
  const ready: RecordingWorkerMessage = { kind: 'ready' };
  process.send(ready);
}

async function main(): Promise<void> {
  try {
    const config = loadRecordingWorkerConfig();
    setLogLevel(config.logLevel);
    // Loaded only now: the signal handlers above must not wait for BullMQ and ffmpeg to load.
    const { startRecordingWorker } = await import('./recording-worker');
    handle = await startRecordingWorker(config, logger);
  } catch (err) {
    if (err instanceof RecordingWorkerConfigError) {
      logger.error(err.message, { err });
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
}

void main();
