import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import type {
  MediaEvent,
  MediaMethod,
  MediaNotificationMap,
  MediaRequestMap,
  ParentToWorkerMessage,
  WorkerToParentMessage,
} from '../../workers/protocol/media';
import { reviveError, WorkerClosedError, WorkerTimeoutError } from '../common/errors';

interface Pending {
  method: MediaMethod;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export type NotificationHandler = <E extends MediaEvent>(event: E, data: MediaNotificationMap[E]) => void;

/**
 * Parent side of the typed request/response + notification channel to one media worker, over
 * Node's child-process IPC. Requests carry increasing ids and a timeout; when the channel
 * closes, every pending request is rejected with WorkerClosedError so no caller hangs.
 */
export class WorkerChannel extends EventEmitter {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(
    private readonly child: ChildProcess,
    private readonly defaultTimeoutMs: number,
  ) {
    super();
    child.on('message', (m: WorkerToParentMessage) => this.onMessage(m));
    child.once('exit', () => this.close('worker exited'));
    child.once('disconnect', () => this.close('worker disconnected'));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  request<M extends MediaMethod>(
    method: M,
    data: MediaRequestMap[M]['req'],
    timeoutMs = this.defaultTimeoutMs,
  ): Promise<MediaRequestMap[M]['res']> {
    if (this.closed || !this.child.connected) {
      return Promise.reject(new WorkerClosedError(`media worker channel is closed (${method})`));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new WorkerTimeoutError(`media worker did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject, timer });
      const msg: ParentToWorkerMessage = { kind: 'request', id, method, data };
      this.child.send(msg, (err) => {
        if (!err) return;
        const p = this.pending.get(id);
        if (!p) return;
        clearTimeout(p.timer);
        this.pending.delete(id);
        p.reject(new WorkerClosedError(`could not send ${method} to the media worker: ${err.message}`));
      });
    });
  }

  /** Rejects every pending request; later requests fail at once. Idempotent. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new WorkerClosedError(`media worker channel closed (${reason}) before answering ${p.method}`));
      this.pending.delete(id);
    }
    this.emit('closed', reason);
  }

  private onMessage(m: WorkerToParentMessage): void {
    switch (m.kind) {
      case 'response': {
        const p = this.pending.get(m.id);
        if (!p) return; // answered after its timeout: nobody waits for it any more
        clearTimeout(p.timer);
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.data);
        else p.reject(reviveError(m.error));
        return;
      }
      case 'notification':
        this.emit('notification', m.event, m.data);
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
