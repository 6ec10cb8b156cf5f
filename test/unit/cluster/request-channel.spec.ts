import {
  RequestChannel,
  type RequestEnvelope,
  type ResponseEnvelope,
} from '../../../src/common/request-channel';

interface TestMap {
  echo: { req: { text: string }; res: { text: string } };
  fail: { req: Record<string, never>; res: null };
}

class ClosedError extends Error {}
class TimeoutError extends Error {}

/** A transport that keeps what was sent; the test answers by hand. */
function channel(opts: { connected?: boolean; sendError?: Error } = {}) {
  const sent: RequestEnvelope<TestMap>[] = [];
  const c = new RequestChannel<TestMap>(
    {
      connected: opts.connected ?? true,
      send: (msg, done) => {
        sent.push(msg);
        setImmediate(() => done(opts.sendError ?? null));
      },
    },
    {
      defaultTimeoutMs: 50,
      peer: 'test peer',
      closedError: (m) => new ClosedError(m),
      timeoutError: (m) => new TimeoutError(m),
      revive: (e) => Object.assign(new Error(e.message), { code: e.code }),
    },
  );
  return { c, sent };
}

describe('RequestChannel (the transport-independent half of the worker IPC and the cluster bus)', () => {
  it('matches responses to requests by id, whatever their order', async () => {
    const { c, sent } = channel();
    const first = c.request('echo', { text: 'one' });
    const second = c.request('echo', { text: 'two' });
    expect(sent.map((m) => [m.id, m.method, m.data])).toEqual([
      [1, 'echo', { text: 'one' }],
      [2, 'echo', { text: 'two' }],
    ]);
    const answer = (id: number, text: string): ResponseEnvelope => ({
      kind: 'response',
      id,
      ok: true,
      data: { text },
    });
    c.settle(answer(2, 'TWO'));
    c.settle(answer(1, 'ONE'));
    await expect(first).resolves.toEqual({ text: 'ONE' });
    await expect(second).resolves.toEqual({ text: 'TWO' });
  });

  it('revives an error response; a late answer after the timeout is dropped', async () => {
    const { c } = channel();
    const failing = c.request('fail', {});
    c.settle({
      kind: 'response',
      id: 1,
      ok: false,
      error: { name: 'RoomFullError', message: 'full', code: 'room_full' },
    });
    await expect(failing).rejects.toMatchObject({ message: 'full', code: 'room_full' });
    const slow = c.request('echo', { text: 'x' }, 20);
    await expect(slow).rejects.toBeInstanceOf(TimeoutError);
    expect(() => c.settle({ kind: 'response', id: 2, ok: true, data: { text: 'late' } })).not.toThrow();
  });

  it('rejects pending and later requests once closed, and requests it could not send', async () => {
    const { c } = channel();
    const pending = c.request('echo', { text: 'x' }, 10_000);
    c.close('peer gone');
    await expect(pending).rejects.toThrow(/closed \(peer gone\) before answering echo/);
    await expect(c.request('echo', { text: 'y' })).rejects.toBeInstanceOf(ClosedError);
    await expect(channel({ connected: false }).c.request('echo', { text: 'z' })).rejects.toBeInstanceOf(
      ClosedError,
    );
    await expect(channel({ sendError: new Error('EPIPE') }).c.request('echo', { text: 'z' })).rejects.toThrow(
      /could not send echo to test peer: EPIPE/,
    );
  });
});
