import type { SerializedError } from '../../workers/protocol/errors';

/** A catalogue of request/response pairs (MediaRequestMap, ClusterRequestMap). */
export type RequestMap<T> = { [K in keyof T]: { req: unknown; res: unknown } };

/** A request as it travels, whatever the transport. */
export interface RequestEnvelope<
  Map extends RequestMap<Map>,
  M extends keyof Map & string = keyof Map & string,
> {
  kind: 'request';
  id: number;
  method: M;
  data: Map[M]['req'];
}

export type ResponseEnvelope =
  | { kind: 'response'; id: number; ok: true; data: unknown }
  | { kind: 'response'; id: number; ok: false; error: SerializedError };

/**
 * How requests leave: the child-process IPC of a media worker, or a Redis channel to another
 * node. `send` calls back with an error when the message could not be handed over.
 */
export interface RequestTransport<Map extends RequestMap<Map>> {
  readonly connected: boolean;
  send(msg: RequestEnvelope<Map>, done: (err: Error | null) => void): void;
}

export interface RequestChannelOptions {
  defaultTimeoutMs: number;
  /** Who answers, for messages: "media worker", "node a:3001". */
  peer: string;
  closedError: (message: string) => Error;
  timeoutError: (message: string) => Error;
  revive: (e: SerializedError, method: string) => Error;
}

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The typed request/response half of a channel, independent of its transport: requests carry
 * increasing ids and a timeout; responses are matched by id; when the channel closes every
 * pending request is rejected, so no caller ever hangs. WorkerChannel (IPC to a media worker)
 * and ClusterBus (Redis between nodes) are its two transports.
 */
export class RequestChannel<Map extends RequestMap<Map>> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(
    private readonly transport: RequestTransport<Map>,
    private readonly opts: RequestChannelOptions,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  request<M extends keyof Map & string>(
    method: M,
    data: Map[M]['req'],
    timeoutMs = this.opts.defaultTimeoutMs,
  ): Promise<Map[M]['res']> {
    if (this.closed || !this.transport.connected) {
      return Promise.reject(this.opts.closedError(`${this.opts.peer} channel is closed (${method})`));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(this.opts.timeoutError(`${this.opts.peer} did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      // The one trust point of a channel: the answer is taken to be the response type of the
      // method it answers (both sides are built from the same catalogue).
      const settle = (value: unknown) => resolve(value as Map[M]['res']);
      this.pending.set(id, { method, resolve: settle, reject, timer });
      const msg: RequestEnvelope<Map, M> = { kind: 'request', id, method, data };
      this.transport.send(msg, (err) => {
        if (!err) return;
        const p = this.pending.get(id);
        if (!p) return;
        clearTimeout(p.timer);
        this.pending.delete(id);
        p.reject(this.opts.closedError(`could not send ${method} to ${this.opts.peer}: ${err.message}`));
      });
    });
  }

  /** A response arrived from the transport. */
  settle(m: ResponseEnvelope): void {
    const p = this.pending.get(m.id);
    if (!p) return; // answered after its timeout: nobody waits for it any more
    clearTimeout(p.timer);
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.data);
    else p.reject(this.opts.revive(m.error, p.method));
  }

  /** Rejects every pending request; later requests fail at once. Idempotent. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(
        this.opts.closedError(`${this.opts.peer} channel closed (${reason}) before answering ${p.method}`),
      );
      this.pending.delete(id);
    }
  }
}
