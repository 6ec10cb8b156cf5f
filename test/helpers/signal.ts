import type { Socket } from 'socket.io-client';
import type { Ack } from '../../workers/protocol/signaling';

/** Emits a signaling request and resolves with its ack (a timeout turns into a rejection). */
export function request<T>(socket: Socket, event: string, body: unknown, timeoutMs = 20000): Promise<Ack<T>> {
  return new Promise((resolve, reject) => {
    socket
      .timeout(timeoutMs)
      .emit(event, body, (err: Error | null, ack: Ack<T>) => (err ? reject(err) : resolve(ack)));
  });
}

/** Like request, but throws when the ack is an error. */
export async function call<T>(socket: Socket, event: string, body: unknown, timeoutMs?: number): Promise<T> {
  const ack = await request<T>(socket, event, body, timeoutMs);
  if (!ack.ok) throw Object.assign(new Error(`${event}: ${ack.error.code}: ${ack.error.message}`), ack.error);
  return ack.data;
}

export function waitFor(cond: () => boolean, timeoutMs: number, what: string, stepMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (cond()) return resolve();
      if (Date.now() > deadline)
        return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      setTimeout(check, stepMs);
    };
    check();
  });
}

export function once<T = unknown>(socket: Socket, event: string, timeoutMs = 20000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} event within ${timeoutMs} ms`)), timeoutMs);
    socket.once(event, (d: T) => {
      clearTimeout(t);
      resolve(d);
    });
  });
}
