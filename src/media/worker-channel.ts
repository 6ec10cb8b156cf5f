import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { reviveError } from '../../workers/kernel/error-serialization';
import type { SerializedError } from '../../workers/protocol/errors';
import type {
  MediaMethod,
  MediaNotification,
  MediaRequestMap,
  ParentToWorkerMessage,
  WorkerToParentMessage,
} from '../../workers/protocol/media';
import { WorkerClosedError, WorkerTimeoutError } from '../common/errors';
import { RequestChannel, type RequestTransport } from '../common/request-channel';

export interface ChannelEvents {
  notification: [n: MediaNotification];
  ready: [pid: number];
  fatal: [error: SerializedError];
  closed: [reason: string];
}

/**
 * Parent side of the typed request/response + notification channel to one media worker: the
 * transport-independent RequestChannel over Node's child-process IPC (the cluster's Redis
 * transport is src/cluster/cluster-bus.ts). When the channel closes, every pending request is
 * rejected with WorkerClosedError so no caller hangs.
 */
export class WorkerChannel extends EventEmitter<ChannelEvents> {
  private readonly requests: RequestChannel<MediaRequestMap>;

  constructor(
    private readonly child: ChildProcess,
    defaultTimeoutMs: number,
  ) {
    super();
    const transport: RequestTransport<MediaRequestMap> = {
      get connected() {
        return child.connected;
      },
      send: (msg, done) => child.send(msg satisfies ParentToWorkerMessage, (err) => done(err ?? null)),
    };
    this.requests = new RequestChannel(transport, {
      defaultTimeoutMs,
      peer: 'media worker',
      closedError: (m) => new WorkerClosedError(m),
      timeoutError: (m) => new WorkerTimeoutError(m),
      revive: (e, method) => reviveError(e, `media worker pid ${child.pid} (${method})`),
    });
    child.on('message', (m: WorkerToParentMessage) => this.onMessage(m));
    child.once('exit', () => this.close('worker exited'));
    child.once('disconnect', () => this.close('worker disconnected'));
  }

  get isClosed(): boolean {
    return this.requests.isClosed;
  }

  request<M extends MediaMethod>(
    method: M,
    data: MediaRequestMap[M]['req'],
    timeoutMs?: number,
  ): Promise<MediaRequestMap[M]['res']> {
    return this.requests.request(method, data, timeoutMs);
  }

  /** Rejects every pending request; later requests fail at once. Idempotent. */
  close(reason: string): void {
    if (this.requests.isClosed) return;
    this.requests.close(reason);
    this.emit('closed', reason);
  }

  private onMessage(m: WorkerToParentMessage): void {
    switch (m.kind) {
      case 'response':
        this.requests.settle(m);
        return;
      case 'notification':
        this.emit('notification', m);
        return;
      case 'ready':
        this.emit('ready', m.pid);
        return;
      case 'fatal':
        this.emit('fatal', m.error);
        return;
    }
  }
}
