import { ConfigError, loadConfig, type AppConfig } from './config/config';
import { DataDirInUseError } from './common/data-dir-lock';
import { Logger } from './common/logger';
import { startServer, type RunningServer } from './server';

const log = new Logger('server');

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  let server: RunningServer;
  try {
    server = await startServer(config);
  } catch (err) {
    if (err instanceof DataDirInUseError) {
      // Refused before touching anything: the running server is not disturbed.
      log.error('refusing to start: the data folder belongs to a running server', {
        dataDir: err.dataDir,
        ownerPid: err.owner?.pid,
        ownerPort: err.owner?.port,
      });
      process.stderr.write(`${err.message}\n`);
      process.exit(75); // EX_TEMPFAIL: try again once the other server is gone
    }
    throw err;
  }
  let stopping = false;
  /**
   * Shutdown always ends within SHUTDOWN_TIMEOUT_MS, Redis or not: past the bound the process
   * exits 1 (not clean) rather than hang in front of a supervisor waiting to restart it.
   */
  const stop = (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { reason, timeoutMs: config.shutdownTimeoutMs });
    const bound = setTimeout(() => {
      log.error('shutdown did not finish in time; exiting anyway', { timeoutMs: config.shutdownTimeoutMs });
      process.exit(1);
    }, config.shutdownTimeoutMs);
    bound.unref();
    server.close().then(
      () => {
        log.info('shut down', { clean: code === 0 });
        process.exit(code);
      },
      (err) => {
        log.error('error during shutdown', { err });
        process.exit(1);
      },
    );
  };
  // With DRAIN_TIMEOUT_S, the first SIGTERM drains (live rooms go on, no new ones; exit 0 when
  // empty or at the deadline); a second one, or SIGINT, stops at once as without it.
  const drainTimeoutS = config.node.drainTimeoutS;
  let sigterms = 0;
  process.on('SIGTERM', () => {
    if (drainTimeoutS > 0 && sigterms++ === 0 && server.startDraining('SIGTERM')) return;
    stop('SIGTERM', 0);
  });
  process.on('SIGINT', () => stop('SIGINT', 0));
  server.onDrained((outcome) => stop(`drained (${outcome})`, 0));
  // The embedded Redis is gone for good: exit non-zero so systemd/Kubernetes restarts the server.
  server.onFatal((err) => {
    log.error('the server cannot continue', { err });
    stop('embedded redis-server lost', 1);
  });
}

main().catch((err) => {
  log.error('server failed to start', { err });
  process.exit(1);
});
