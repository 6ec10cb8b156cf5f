import { Logger } from './logger';

/**
 * Process-level safety net. No background path (queue events, worker notifications, manifest
 * writes, webhooks) may end the control plane: each catches its own errors, and a rejection that
 * still escapes is logged at error level and counted (mcu_unhandled_rejections_total) instead of
 * killing every room on the node. The integration tests assert the count stays 0.
 */
let unhandledRejections = 0;
let installed = false;
const log = new Logger('process');

export function installProcessFaultHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('unhandledRejection', (reason) => {
    unhandledRejections++;
    log.error('unhandled promise rejection (a background path did not catch its error)', {
      err: reason,
      count: unhandledRejections,
    });
  });
  // An uncaught exception still ends the process (its state is unknown), but as a JSON line.
  process.on('uncaughtExceptionMonitor', (err) => log.error('uncaught exception; exiting', { err }));
}

export function unhandledRejectionCount(): number {
  return unhandledRejections;
}
