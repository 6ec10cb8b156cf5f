import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';

/**
 * The media pods' preStop hook (docker/k8s/base/drain.mjs), run as the kubelet runs it, against
 * a stand-in for the node on loopback: the real drain endpoint does not exist yet (issue #11).
 */
const HOOK = path.resolve(__dirname, '../../../docker/k8s/base/drain.mjs');
const KEY = 'k'.repeat(32);

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

/** A node that answers the drain request with `drainStatus` and counts what it is asked. */
async function fakeNode(drainStatus: number) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    if (req.method === 'POST' && req.url?.endsWith('/drain')) res.writeHead(drainStatus).end();
    else if (req.url === '/healthz')
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const { port } = address;
  /** The node exits: its port stops answering. */
  const exit = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return { port, seen, exit };
}

function runHook(env: Record<string, string>, onLine: (msg: string) => void = () => undefined) {
  const child = spawn(process.execPath, [HOOK], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: 'pipe',
  });
  const lines: { msg: string }[] = [];
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const entry: unknown = JSON.parse(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      const msg = typeof entry === 'object' && entry !== null && 'msg' in entry ? String(entry.msg) : '';
      lines.push({ msg });
      onLine(msg);
    }
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), 60000);
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(guard);
      resolve(code);
    }),
  );
  return { exited, lines };
}

describe('media node preStop hook (drain.mjs)', () => {
  it('asks the node to drain through its API and returns only after the node has exited', async () => {
    const node = await fakeNode(202);
    const hook = runHook({
      PORT: String(node.port),
      NODE_ID: 'worker 1',
      ADMIN_API_KEY: KEY,
      DRAIN_TIMEOUT_S: '60',
    });
    const order: string[] = [];
    void hook.exited.then(() => order.push('hook returned'));
    // The node keeps its rooms while the hook polls its liveness a few times, then exits.
    const polls = () => node.seen.filter((s) => s.url === '/healthz').length;
    while (order.length === 0 && polls() < 2) await new Promise((r) => setTimeout(r, 100));
    await node.exit();
    order.push('node exited');
    expect(await hook.exited).toBe(0);
    expect(order).toEqual(['node exited', 'hook returned']);
    expect(node.seen[0]).toEqual({
      method: 'POST',
      url: '/api/nodes/worker%201/drain',
      authorization: `Bearer ${KEY}`,
    });
    expect(hook.lines.map((l) => l.msg)).toEqual([
      'draining: waiting for the node to exit',
      'node drained and exited',
    ]);
  });

  it('leaves the drain to SIGTERM when the node refuses the request', async () => {
    const node = await fakeNode(404);
    const hook = runHook({
      PORT: String(node.port),
      NODE_ID: 'worker-1',
      ADMIN_API_KEY: KEY,
      DRAIN_TIMEOUT_S: '60',
    });
    expect(await hook.exited).toBe(1);
    await node.exit();
    expect(node.seen.map((s) => s.method)).toEqual(['POST']); // it did not wait
    expect(hook.lines.map((l) => l.msg)).toEqual(['drain request refused; leaving it to SIGTERM']);
  });

  it('succeeds at once when the node is not running', async () => {
    const node = await fakeNode(202);
    await node.exit();
    const hook = runHook({ PORT: String(node.port), NODE_ID: 'worker-1', ADMIN_API_KEY: KEY });
    expect(await hook.exited).toBe(0);
    expect(hook.lines.map((l) => l.msg)).toEqual(['node not running: nothing to drain']);
  });

  it('sends nothing without NODE_ID or ADMIN_API_KEY', async () => {
    const node = await fakeNode(202);
    const hook = runHook({ PORT: String(node.port), NODE_ID: 'worker-1' });
    expect(await hook.exited).toBe(1);
    await node.exit();
    expect(node.seen).toEqual([]);
  });
});
