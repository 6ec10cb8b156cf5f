import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { api, ensureRoom, token } from '../helpers/api';
import { startCluster, waitForNodes, type ClusterNode, type TestCluster } from '../helpers/cluster';
import { joinRoom, RED } from '../helpers/live-room';
import { killProcessTree, spawnServer } from '../helpers/server';
import { waitFor } from '../helpers/signal';
import type { TestClient } from '../helpers/wrtc-client';
import { buildPublic, joinByLink, launchChromium, newPage, pageStats, waitForStats } from './helpers/browser';

const ROOM = 'failover';

/**
 * What a load balancer in front of the control nodes does, reduced to one rule: each new TCP
 * connection goes to the first backend that accepts it (B while it lives, then A). The page
 * loads from it and opens its socket.io connection to it (same origin), as behind a real one.
 */
async function startFailoverProxy(ports: number[]) {
  const routed: number[] = [];
  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    const tryPort = (i: number) => {
      const up = net.connect(ports[i], '127.0.0.1');
      let connected = false;
      up.once('connect', () => {
        connected = true;
        routed.push(ports[i]);
        client.pipe(up);
        up.pipe(client);
      });
      up.on('error', () => {
        if (!connected && i + 1 < ports.length) tryPort(i + 1);
        else client.destroy();
      });
      up.on('close', () => {
        if (connected) client.destroy();
      });
      client.on('close', () => up.destroy());
    };
    tryPort(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    routed,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Fraction of the page's received video (its current frame) within ±tol of an RGB colour. */
function colourShare(page: Page, rgb: { r: number; g: number; b: number }, tol = 45): Promise<number> {
  return page.evaluate(
    ({ r, g, b, tol }) => {
      const v = document.querySelector<HTMLVideoElement>('#remote')!;
      if (!v.videoWidth) return 0;
      const c = document.createElement('canvas');
      [c.width, c.height] = [v.videoWidth, v.videoHeight];
      const ctx = c.getContext('2d')!;
      ctx.drawImage(v, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let hits = 0;
      for (let i = 0; i < d.length; i += 4)
        if (Math.abs(d[i] - r) <= tol && Math.abs(d[i + 1] - g) <= tol && Math.abs(d[i + 2] - b) <= tol)
          hits++;
      return hits / (d.length / 4);
    },
    { ...rgb, tol },
  );
}

/**
 * docs/scale-out.md, "Failures": a control node that dies loses only its sockets; the browser
 * page reconnects through another node and rejoins by itself. Node A hosts the room (the only
 * media node); node B is control-only and holds the page's socket until it is SIGKILLed.
 */
describe('the join page when its control node dies', () => {
  let cluster: TestCluster;
  let a: ClusterNode;
  let b: ClusterNode;
  let proxy: Awaited<ReturnType<typeof startFailoverProxy>>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let red: TestClient;
  const consoleLines: string[] = [];

  beforeAll(async () => {
    buildPublic();
    cluster = await startCluster(['node-a']);
    a = cluster.nodes[0];
    const spawned = await spawnServer({ ...cluster.env, NODE_ID: 'node-b', NODE_ROLES: 'control' });
    b = Object.assign(spawned, { nodeId: 'node-b' });
    cluster.nodes.push(b);
    await waitForNodes(a, ['node-a', 'node-b']);
    await waitForNodes(b, ['node-a', 'node-b']);
    proxy = await startFailoverProxy([Number(new URL(b.url).port), Number(new URL(a.url).port)]);
    browser = await launchChromium();
    await ensureRoom(a, ROOM);
    red = await joinRoom(a, ROOM, 'red', { colour: RED, toneHz: 440 });
  }, 90_000);
  afterAll(async () => {
    await red?.close();
    await context?.close().catch(() => undefined);
    await browser?.close();
    await proxy?.close();
    await cluster?.stop();
  }, 60_000);

  const identitiesOnA = async () =>
    (
      await api<{ participants: { identity: string }[] }>(a, `/api/rooms/${ROOM}/participants`)
    ).body.participants
      .map((p) => p.identity)
      .sort();

  /** `participant joined` lines of the host's session service for one participant id. */
  const joinsOnA = (participantId: string | null) =>
    a.lines.filter(
      (l) =>
        l.includes('"component":"sessions"') &&
        l.includes('"participant joined"') &&
        l.includes(`"participantId":"${participantId}"`),
    ).length;

  /**
   * A rejoin that did not happen fails with what the page showed and said, where its
   * connections went, and what the host logged about it (a flake of 1 in ~5 full runs once:
   * the bare timeout told nothing).
   */
  const explainRejoin = async (err: unknown, participantId: string | null, routedFrom: number) => {
    const stats = await pageStats(page).catch((e: unknown) => String(e));
    const status = await page
      .locator('#status')
      .textContent({ timeout: 2000 })
      .catch(() => null);
    const hostLines = a.lines
      .filter(
        (l) => (participantId !== null && l.includes(participantId)) || /"level":"(warn|error)"/.test(l),
      )
      .slice(-30);
    throw new Error(
      [
        (err as Error).message,
        `page: ${JSON.stringify(stats)}; status: ${JSON.stringify(status)}`,
        `page console (last 20): ${consoleLines.slice(-20).join(' | ')}`,
        `connections routed since the kill: ${JSON.stringify(proxy.routed.slice(routedFrom))}`,
        'host log:',
        ...hostLines,
      ].join('\n'),
    );
  };

  it('joins through node B a room hosted on node A and sees the other participant', async () => {
    ({ context, page } = await newPage(browser));
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`.slice(0, 300)));
    const t = await token(a, ROOM, { identity: 'browser', displayName: 'Browser' });
    await joinByLink(page, proxy.url, ROOM, t);
    const bPort = Number(new URL(b.url).port);
    expect(proxy.routed.length).toBeGreaterThan(0);
    expect(proxy.routed.every((p) => p === bPort)).toBe(true);
    let share = 0;
    await waitFor(
      () => {
        void colourShare(page, RED).then((s) => (share = s));
        return share > 0.1;
      },
      30_000,
      'the red participant on the page',
      300,
    );
    expect(await identitiesOnA()).toEqual(['browser', 'red']);
    expect((await api<{ node: string }>(a, `/api/rooms/${ROOM}`)).body.node).toBe('node-a');
  }, 60_000);

  it('SIGKILL of node B: the page reconnects through A, rejoins by itself and sees red again', async () => {
    const before = await pageStats(page);
    const routedBefore = proxy.routed.length;
    const joinsBefore = joinsOnA(before.participantId);
    expect(joinsBefore).toBe(1);
    killProcessTree(b.proc.pid!);
    const killedAt = Date.now();
    // A rejoin keeps the participant id (the same identity replaces its own session), so the
    // host's log tells it: one more `participant joined` of the page's participant.
    await waitFor(
      () => joinsOnA(before.participantId) > joinsBefore,
      60_000,
      'the page to join again on the host',
      200,
    ).catch((err: unknown) => explainRejoin(err, before.participantId, routedBefore));
    const back = await waitForStats(
      page,
      (s) => s.state === 'connected' && s.framesDecoded > 0,
      'the page to be connected again and receive video',
    );
    process.stdout.write(`page rejoined ${Date.now() - killedAt} ms after the SIGKILL of its control node\n`);
    // Its new connection went through the survivor.
    const aPort = Number(new URL(a.url).port);
    expect(proxy.routed.slice(routedBefore)).toContain(aPort);
    const later = await waitForStats(
      page,
      (s) => s.framesDecoded > back.framesDecoded + 30,
      'frames after the rejoin',
    );
    expect(later.state).toBe('connected');
    let share = 0;
    await waitFor(
      () => {
        void colourShare(page, RED).then((s) => (share = s));
        return share > 0.1;
      },
      30_000,
      'the red participant on the page after the rejoin',
      300,
    );
    // One session per person on the host: the rejoin replaced the session whose socket died
    // with B (same participant id, new connection); the red participant never left.
    expect(await identitiesOnA()).toEqual(['browser', 'red']);
    expect(red.events.filter((e) => e.event === 'room-ended')).toEqual([]);
    // Then A's janitor sees B lost and removes what B's sockets held: nothing of the page's now.
    await waitFor(
      () => a.lines.some((l) => l.includes('"cluster node lost"') && l.includes('node-b')),
      30_000,
      "A's janitor to see B lost",
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(await identitiesOnA()).toEqual(['browser', 'red']);
    // …and the page's new session was not taken for the one whose socket was on B.
    expect(a.lines.filter((l) => l.includes('the node holding its socket was lost'))).toEqual([]);
    const after = await pageStats(page);
    expect(after).toMatchObject({ state: 'connected', participantId: before.participantId });
    await waitForStats(page, (s) => s.framesDecoded > after.framesDecoded + 15, 'frames after the janitor');
  }, 120_000);
});
