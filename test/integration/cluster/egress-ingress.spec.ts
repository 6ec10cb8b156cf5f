import Redis from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EgressView } from '../../../src/egress/egress.schemas';
import type { IngressView } from '../../../src/ingress/ingress.schemas';
import type { WebhookEnvelope } from '../../../src/webhooks/webhook-events';
import { api } from '../../helpers/api';
import { hostOf, startCluster, type ClusterNode, type TestCluster } from '../../helpers/cluster';
import { GREEN, joinRoom, RED } from '../../helpers/live-room';
import { frameContainsColour, goertzel, rgbToYuv } from '../../helpers/media-analysis';
import { killProcessTree, tempDir } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import type { TestClient } from '../../helpers/wrtc-client';
import {
  allAudio,
  freePort,
  lastFrame,
  probeStreams,
  rtmpReceiver,
  waitForEgress,
  webhookSink,
  type RtmpReceiver,
} from '../egress/egress-fixtures';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** H.264 + AAC holding `colour` in its last frame and `toneHz` in its last second. */
async function expectMedia(file: string, colour: typeof RED, toneHz: number): Promise<void> {
  const p = await probeStreams(file);
  expect(p.codecs).toEqual(['aac', 'h264']);
  expect(frameContainsColour(await lastFrame(file, p.width, p.height), rgbToYuv(colour))).toBe(true);
  const pcm = await allAudio(file);
  expect(pcm.length).toBeGreaterThan(48000);
  expect(goertzel(pcm.subarray(pcm.length - 48000), 48000, toneHz)).toBeGreaterThan(0.2);
}

/** ffmpeg pushing a green picture and a 660 Hz tone in real time, as OBS would. */
function push(url: string, seconds: number): ChildProcess {
  return spawn(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error'],
      ...['-re', '-f', 'lavfi', '-i', 'color=c=0x28C83C:size=640x360:rate=15'],
      ...['-re', '-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000'],
      ...['-t', String(seconds)],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30'],
      ...['-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k', '-f', 'flv', url],
    ],
    { stdio: 'ignore' },
  );
}

async function playlistText(base: string, url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(base + url);
  return { status: res.status, text: res.status === 200 ? await res.text() : '' };
}

/**
 * Egress and ingress in a cluster (docs/scale-out.md, "Egress and ingress"): node A hosts every
 * room (B has only the `control` role, so placement can only choose A), and every REST call,
 * every HLS read and every participant goes through node B. Then A is killed with its whole
 * process tree: B's janitor announces its participants' leave once and fails its egresses and
 * ingresses.
 */
describe('egress and ingress through a node that does not host the room', () => {
  let cluster: TestCluster;
  let a: ClusterNode;
  let b: ClusterNode;
  let sink: Awaited<ReturnType<typeof webhookSink>>;
  let rtmpPortA = 0;
  let rtmpPortB = 0;
  const clients: TestClient[] = [];
  const receivers: RtmpReceiver[] = [];
  const pushers: ChildProcess[] = [];
  let p1: TestClient;

  beforeAll(async () => {
    sink = await webhookSink();
    rtmpPortA = await freePort();
    rtmpPortB = await freePort();
    cluster = await startCluster(
      ['node-a', 'node-b'],
      { WEBHOOK_URLS: sink.url, WEBHOOK_BACKOFF_MS: '200', EGRESS_HLS_RETENTION_S: '3' },
      {
        'node-a': { RTMP_PORT: String(rtmpPortA) },
        // Another public name: the URL of an ingress must name the node that hosts its room.
        'node-b': { RTMP_PORT: String(rtmpPortB), RTMP_PUBLIC_HOST: 'localhost', NODE_ROLES: 'control' },
      },
    );
    [a, b] = cluster.nodes;
    p1 = await joinRoom(b, 'fwd-room', 'p1', { colour: RED, toneHz: 440 });
    clients.push(p1);
    expect(await hostOf(b, 'fwd-room')).toBe('node-a');
    await waitFor(
      () => !!p1.latestFrame && frameContainsColour(p1.latestFrame, rgbToYuv(RED)),
      45_000,
      'media',
    );
  }, 120_000);

  afterAll(async () => {
    for (const p of pushers) p.kill('SIGKILL');
    await Promise.all(receivers.map((r) => r.stop()));
    await Promise.all(clients.map((c) => c.close()));
    await cluster?.stop();
    await sink?.close();
  }, 60_000);

  it('HLS egress started, listed, read and stopped through B while the room and its files are on A', async () => {
    const res = await api<EgressView>(b, '/api/rooms/fwd-room/egress', {
      method: 'POST',
      body: { type: 'hls', profile: 'low' },
    });
    expect(res.status).toBe(201);
    const { id } = res.body;
    const url = res.body.playlistUrl as string;
    expect(url).toMatch(/^\/hls\/[A-Za-z0-9_-]{32}\/index\.m3u8$/);
    await waitForEgress(b, id, ['active']);
    const listed = await api<{ items: EgressView[] }>(b, '/api/egress?roomId=fwd-room');
    expect(listed.body.items.map((e) => e.id)).toContain(id);
    expect((await api<EgressView>(a, `/api/egress/${id}`)).body.state).toBe('active');

    // The playlist and a segment through B (forwarded from A): the same bytes as on A.
    let pl = await playlistText(b.url, url);
    for (let i = 0; i < 60 && pl.text.split('\n').filter((l) => l.endsWith('.ts')).length < 2; i++) {
      await sleep(500);
      pl = await playlistText(b.url, url);
    }
    expect(pl.status).toBe(200);
    expect(pl.text).toContain('#EXT-X-TARGETDURATION:2');
    const segs = pl.text.split('\n').filter((l) => l.endsWith('.ts'));
    expect(segs.length).toBeGreaterThanOrEqual(2);
    const segUrl = url.replace('index.m3u8', segs[segs.length - 1]);
    // Timings are printed (docs/scale-out.md), not asserted: this machine is shared and loaded.
    let t0 = performance.now();
    const viaB = await fetch(b.url + segUrl);
    expect(viaB.status).toBe(200);
    expect(viaB.headers.get('content-type')).toBe('video/mp2t');
    expect(viaB.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const bytesB = Buffer.from(await viaB.arrayBuffer());
    const forwardedMs = performance.now() - t0;
    t0 = performance.now();
    const cachedB = Buffer.from(await (await fetch(b.url + segUrl)).arrayBuffer());
    const cachedMs = performance.now() - t0;
    t0 = performance.now();
    const bytesA = Buffer.from(await (await fetch(a.url + segUrl)).arrayBuffer());
    const localMs = performance.now() - t0;
    expect(bytesB.equals(bytesA)).toBe(true);
    expect(cachedB.equals(bytesA)).toBe(true);
    process.stdout.write(
      `HLS segment of ${bytesA.length} bytes: ${forwardedMs.toFixed(1)} ms through B (forwarded), ` +
        `${cachedMs.toFixed(1)} ms through B (cached), ${localMs.toFixed(1)} ms from A\n`,
    );
    const file = path.join(tempDir('cluster-hls'), 'seg.ts');
    fs.writeFileSync(file, bytesB);
    await expectMedia(file, RED, 440);
    expect((await fetch(`${b.url}/hls/${'A'.repeat(32)}/index.m3u8`)).status).toBe(404);

    // Stopped through B: A's encode ends, the playlist (through B) ends, then is gone.
    const stopped = await api<EgressView>(b, `/api/egress/${id}`, { method: 'DELETE' });
    expect(stopped.status).toBe(200);
    expect(stopped.body.state).toBe('stopped');
    expect((await api<EgressView>(a, `/api/egress/${id}`)).body.state).toBe('stopped');
    expect((await api(b, `/api/egress/${id}`, { method: 'DELETE' })).status).toBe(409);
    let ended = '';
    await waitFor(
      () => {
        void playlistText(b.url, url).then((r) => (ended = r.text));
        return ended.includes('#EXT-X-ENDLIST');
      },
      10_000,
      'the ended playlist through B',
      300,
    );
    let status = 200;
    await waitFor(
      () => {
        void fetch(b.url + url).then((r) => (status = r.status));
        return status === 404;
      },
      15_000,
      'the playlist gone after retention',
      500,
    );
  }, 120_000);

  it('RTMP egress started through B reaches a local RTMP server; stopped through B', async () => {
    const port = await freePort();
    const file = path.join(tempDir('cluster-rtmp'), 'out.ts');
    const receiver = rtmpReceiver(port, file);
    receivers.push(receiver);
    const target = `rtmp://127.0.0.1:${port}/live/x`;
    const res = await api<EgressView>(b, '/api/rooms/fwd-room/egress', {
      method: 'POST',
      body: { type: 'rtmp', url: target, profile: 'low' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ roomId: 'fwd-room', type: 'rtmp', url: target });
    await waitForEgress(b, res.body.id, ['active']);
    await sleep(6000);
    const stopped = await api<EgressView>(b, `/api/egress/${res.body.id}`, { method: 'DELETE' });
    expect(stopped.body.state).toBe('stopped');
    await receiver.stop();
    await expectMedia(file, RED, 440);
  }, 120_000);

  it('RTMP ingress created through B in an empty room: placed on A, its URL names A, seen and heard, removed through B', async () => {
    await api(b, '/api/rooms', { method: 'POST', body: { id: 'ingest-room' } });
    const res = await api<IngressView>(b, '/api/rooms/ingest-room/ingress', {
      method: 'POST',
      body: { type: 'rtmp', displayName: 'OBS' },
    });
    expect(res.status).toBe(201);
    const ing = res.body;
    // A's RTMP server (A hosts the room), not B's: B's public name and port appear nowhere.
    expect(ing.url).toMatch(new RegExp(`^rtmp://127\\.0\\.0\\.1:${rtmpPortA}/live/[A-Za-z0-9_-]{32}$`));
    expect(await hostOf(b, 'ingest-room')).toBe('node-a');
    expect((await api<IngressView>(b, `/api/ingress/${ing.id}`)).body.state).toBe('waiting');

    const viewer = await joinRoom(b, 'ingest-room', 'viewer', { colour: RED, toneHz: 440 });
    clients.push(viewer);
    pushers.push(push(ing.url, 40));
    await waitFor(
      () => !!viewer.latestFrame && frameContainsColour(viewer.latestFrame, rgbToYuv(GREEN)),
      30_000,
      'the pushed green in the composite',
    );
    await waitFor(() => goertzel(viewer.recentAudio(1000), 48000, 660) > 0.2, 20_000, 'the pushed tone');
    let state = '';
    await waitFor(
      () => {
        void api<IngressView>(b, `/api/ingress/${ing.id}`).then((r) => (state = r.body.state));
        return state === 'publishing';
      },
      10_000,
      'publishing, seen through B',
      300,
    );
    const listed = await api<{ items: IngressView[] }>(b, '/api/ingress?roomId=ingest-room');
    expect(listed.body.items.map((i) => i.id)).toEqual([ing.id]);

    const removed = await api<IngressView>(b, `/api/ingress/${ing.id}`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
    expect(removed.body.state).toBe('ended');
    expect((await api<IngressView>(a, `/api/ingress/${ing.id}`)).body.state).toBe('ended');
    const parts = await api<{ participants: { participantId: string }[] }>(
      b,
      '/api/rooms/ingest-room/participants',
    );
    expect(parts.body.participants.map((p) => p.participantId)).not.toContain(ing.participantId);
    await viewer.close();
  }, 120_000);

  it("A killed: its participants' participant.left is delivered once, its egress and ingress fail", async () => {
    let rewritten = false;
    const ingress = await api<IngressView>(b, '/api/rooms/fwd-room/ingress', {
      method: 'POST',
      body: { type: 'rtmp', displayName: 'camera' },
    });
    expect(ingress.status).toBe(201);
    const egress = await api<EgressView>(b, '/api/rooms/fwd-room/egress', {
      method: 'POST',
      body: { type: 'hls', profile: 'low' },
    });
    expect(egress.status).toBe(201);
    await waitForEgress(b, egress.body.id, ['active']);
    const parts = await api<{ participants: { participantId: string; identity: string }[] }>(
      b,
      '/api/rooms/fwd-room/participants',
    );
    const ids = parts.body.participants.map((p) => p.participantId).sort();
    expect(ids).toEqual([p1.participantId, ingress.body.participantId].sort());

    // What A keeps in Redis for this moment, erased (as by a failed write or a Redis that
    // restarted empty): A writes it again within a registry tick.
    const redis = new Redis(cluster.redis.url);
    try {
      const [memberKey] = await redis.keys('*room-members:node-a:*:fwd-room');
      expect(Object.keys(await redis.hgetall(memberKey)).sort()).toEqual(ids);
      const recordKeys = await redis.keys('*-records');
      expect(recordKeys.sort()).toEqual(['mcu:egress-records', 'mcu:ingress-records']);
      await redis.del(memberKey, ...recordKeys);
      await waitFor(
        () => {
          void Promise.all([
            redis.hgetall(memberKey),
            redis.hget('mcu:egress-records', egress.body.id),
            redis.hget('mcu:ingress-records', ingress.body.id),
          ]).then(([m, e, i]) => (rewritten = Object.keys(m).length === 2 && e !== null && i !== null));
          return rewritten;
        },
        10_000,
        'members and records written again',
        300,
      );
    } finally {
      redis.disconnect();
    }

    killProcessTree(a.proc.pid!);
    const killedAt = Date.now();
    const leftOf = (pid: string) =>
      sink.events.filter(
        (e): e is WebhookEnvelope<'participant.left'> =>
          e.event === 'participant.left' && (e.data as { participantId?: string }).participantId === pid,
      );
    await waitFor(() => ids.every((pid) => leftOf(pid).length > 0), 45_000, 'participant.left for each');
    process.stdout.write(`participant.left delivered ${Date.now() - killedAt} ms after the SIGKILL\n`);
    // Once: nothing more arrives for them (every node's janitor saw the loss).
    await sleep(5000);
    for (const pid of ids) {
      expect(leftOf(pid)).toHaveLength(1);
      expect(leftOf(pid)[0].data).toMatchObject({ roomId: 'fwd-room', reason: 'room-ended' });
    }
    const ended = sink.events.filter(
      (e) =>
        e.event === 'room.ended' &&
        JSON.stringify(e.data) === JSON.stringify({ roomId: 'fwd-room', reason: 'media-node-lost' }),
    );
    expect(ended).toHaveLength(1);
    await waitFor(
      () => p1.events.some((e) => e.event === 'room-ended'),
      10_000,
      'room-ended on the socket held by B',
    );

    const eg = await api<EgressView>(b, `/api/egress/${egress.body.id}`);
    expect(eg.body).toMatchObject({ state: 'failed', error: 'media node node-a was lost' });
    expect(eg.body.endedAt).not.toBeNull();
    const failedHooks = sink.events.filter(
      (e) =>
        e.event === 'egress.updated' &&
        (e.data as { egressId: string; state: string }).egressId === egress.body.id &&
        (e.data as { state: string }).state === 'failed',
    );
    expect(failedHooks).toHaveLength(1);
    const ing = await api<IngressView>(b, `/api/ingress/${ingress.body.id}`);
    expect(ing.body).toMatchObject({ state: 'failed', error: 'media node node-a was lost' });
    // Its HLS is gone with A's disk.
    expect((await fetch(b.url + (egress.body.playlistUrl as string))).status).toBe(404);
  }, 120_000);
});
