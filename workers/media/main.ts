/**
 * Media worker entry: one OS process per room, forked by the control plane's MediaSupervisor.
 * Kept tiny on purpose (the BullMQ sandbox pattern): wire the IPC channel, install signal
 * handlers, report fatal errors, and make sure the process never outlives its parent.
 */
import {
  WORKER_EXIT_BAD_SETTINGS,
  type ParentToWorkerMessage,
  type WorkerToParentMessage,
} from '../protocol/media';
import { serializeError } from '../kernel/error-serialization';
import { Logger } from '../kernel/logger';
import { WorkerRuntime } from './worker-runtime';

const log = new Logger('media-worker');

if (!process.send) {
  log.error('the media worker must be started by the control plane (it needs an IPC channel)');
  process.exit(WORKER_EXIT_BAD_SETTINGS);
}

const send = (m: WorkerToParentMessage): void => {
  if (process.connected) process.send?.(m);
};
const runtime = new WorkerRuntime(send, (code) => {
  // wrtc holds native handles that keep the loop alive: exit explicitly.
  process.exit(code);
});

process.on('message', (m: ParentToWorkerMessage) => void runtime.handle(m));
// The parent died or closed the channel: nobody can use this room any more.
process.on('disconnect', () => void runtime.shutdown(0));
process.on('SIGTERM', () => void runtime.shutdown(0));
process.on('SIGINT', () => void runtime.shutdown(0));
process.on('uncaughtException', (err) => {
  log.error('uncaught exception in media worker', { err });
  send({ kind: 'fatal', error: serializeError(err) });
  process.exit(1);
});
process.on('unhandledRejection', (reason) => {
  log.error('unhandled rejection in media worker', { err: reason });
});

runtime.ready();
