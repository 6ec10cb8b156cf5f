/**
 * Entry of a standalone recording worker process (`npm run worker:recording`). All the logic is in
 * startRecordingWorker; this file only wires configuration, signals and exit codes.
 *
 * Exit codes: 0 after SIGTERM/SIGINT (running jobs finished), 1 on an uncaught error,
 * 78 (EX_CONFIG) on bad or missing configuration.
 */
import { ConfigError, loadConfig } from '../../src/config/config';
import { Logger, setLogLevel } from '../../src/common/logger';
import { RedisUrlMissingError, startRecordingWorker, type RecordingWorkerHandle } from './recording-worker';

const EXIT_CONFIG = 78;

async function main(): Promise<void> {
  const logger = new Logger('recording-worker');
  process.on('uncaughtException', (err) => {
    logger.error('uncaught exception', { err });
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    logger.error('unhandled rejection', { err });
    process.exit(1);
  });

  let handle: RecordingWorkerHandle;
  try {
    const config = loadConfig();
    setLogLevel(config.logLevel);
    handle = await startRecordingWorker(config, logger);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof RedisUrlMissingError) {
      logger.error(err.message, { err });
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return; // a second signal does not interrupt the graceful close
    stopping = true;
    logger.info('recording worker stopping: finishing current jobs', { signal });
    handle.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('recording worker close failed', { err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  serverGone = () => shutdown('SIGTERM');
}

/**
 * Started by the server (embedded mode): if the server goes away, so does this worker, even
 * while it is still starting; unfinished jobs stay in Redis for the next start. Its Redis may be
 * gone too (the embedded one dies with the server), so closing can hang on reconnects: a few
 * seconds, then exit; an interrupted job is retried by BullMQ as stalled.
 */
let serverGone: () => void = () => process.exit(0);
if (process.send) {
  process.on('disconnect', () => {
    setTimeout(() => process.exit(0), 5000).unref();
    serverGone();
  });
}

void main();
