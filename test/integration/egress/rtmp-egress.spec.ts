import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EgressView } from '../../../src/egress/egress.schemas';
import { api } from '../../helpers/api';
import { joinRoom, RED, type TestServer } from '../../helpers/live-room';
import { frameContainsColour, goertzel, rgbToYuv } from '../../helpers/media-analysis';
import { startTestServer, tempDir } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import type { TestClient } from '../../helpers/wrtc-client';
import {
  allAudio,
  ffmpegCommandLines,
  freePort,
  lastFrame,
  probeStreams,
  rtmpReceiver,
  waitForEgress,
  webhookSink,
  type RtmpReceiver,
} from './egress-fixtures';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The received file holds H.264 + AAC with the publisher's colour and tone. */
async function expectRoomMedia(file: string): Promise<void> {
  const p = await probeStreams(file);
  expect(p.codecs).toEqual(['aac', 'h264']);
  expect([p.width, p.height]).toEqual([320, 180]); // the 'low' profile asked for
  const frame = await lastFrame(file, p.width, p.height);
  expect(frameContainsColour(frame, rgbToYuv(RED))).toBe(true);
  const pcm = await allAudio(file);
  expect(pcm.length).toBeGreaterThan(48000); // > 1 s
  const tail = pcm.subarray(pcm.length - 48000);
  expect(goertzel(tail, 48000, 440)).toBeGreaterThan(0.2);
  expect(goertzel(tail, 48000, 1000)).toBeLessThan(0.05);
}

describe('RTMP egress (real ffmpeg encoder, remux and RTMP receiver)', () => {
  let server: TestServer;
  let sink: Awaited<ReturnType<typeof webhookSink>>;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    sink = await webhookSink();
    server = await startTestServer({ WEBHOOK_URLS: sink.url, EGRESS_RTMP_RECONNECT_S: '30' });
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server?.close();
    await sink?.close();
  });
  const receivers: RtmpReceiver[] = [];
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.stop()));
  });

  it('streams the composite and the mix to an RTMP server, and reconnects when the server comes back', async () => {
    const dir = tempDir('rtmp');
    const port = await freePort();
    const first = path.join(dir, 'first.ts');
    receivers.push(rtmpReceiver(port, first));
    const a = await joinRoom(server, 'rtmp-room', 'a', { colour: RED, toneHz: 440 });
    clients.push(a);
    await waitFor(() => !!a.latestFrame && frameContainsColour(a.latestFrame, rgbToYuv(RED)), 30000, 'media');

    const url = `rtmp://127.0.0.1:${port}/live/x`;
    const res = await api<EgressView>(server, '/api/rooms/rtmp-room/egress', {
      method: 'POST',
      body: { type: 'rtmp', url, profile: 'low' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      roomId: 'rtmp-room',
      type: 'rtmp',
      state: 'starting',
      url,
      profile: 'low',
    });
    const id = res.body.id;
    await waitForEgress(server, id, ['active']);

    // A second egress of the same profile shares the encode: one more remux, not one more encode.
    const hls = await api<EgressView>(server, '/api/rooms/rtmp-room/egress', {
      method: 'POST',
      body: { type: 'hls', profile: 'low' },
    });
    expect(hls.status).toBe(201);
    await waitForEgress(server, hls.body.id, ['active']);
    const cmds = ffmpegCommandLines().filter((c) => !c.includes('-listen 1'));
    expect(cmds.filter((c) => c.includes('rawvideo') && c.includes('pipe:1'))).toHaveLength(1);
    expect(cmds.filter((c) => c.includes('-c copy') && c.includes('pipe:0'))).toHaveLength(2);
    expect((await api(server, `/api/egress/${hls.body.id}`, { method: 'DELETE' })).status).toBe(200);
    await sleep(5000);
    await receivers[0].stop();
    await expectRoomMedia(first);

    // The far end is gone: the egress reconnects (the encode goes on) until it is back.
    const dropped = await waitForEgress(server, id, ['reconnecting']);
    expect(dropped.error).toMatch(/ffmpeg exited/);
    expect(dropped.error).not.toContain('/live/x'); // the stream key stays out of errors
    expect(a.latestFrame && frameContainsColour(a.latestFrame, rgbToYuv(RED))).toBe(true);
    await sleep(1500);
    const second = path.join(dir, 'second.ts');
    receivers.push(rtmpReceiver(port, second));
    await waitForEgress(server, id, ['active'], 30000);
    await sleep(4000);

    const listed = await api<{ items: EgressView[] }>(server, '/api/egress?roomId=rtmp-room');
    expect(listed.body.items.map((e) => e.id).sort()).toEqual([id, hls.body.id].sort());
    const stopped = await api<EgressView>(server, `/api/egress/${id}`, { method: 'DELETE' });
    expect(stopped.status).toBe(200);
    expect(stopped.body.state).toBe('stopped');
    expect((await api(server, `/api/egress/${id}`, { method: 'DELETE' })).status).toBe(409);
    await receivers[1].stop();
    await expectRoomMedia(second);

    // One webhook per state change, in order.
    await waitFor(
      () =>
        sink.events.some((e) => e.event === 'egress.updated' && (e.data as EgressView).state === 'stopped'),
      15000,
      'stopped webhook',
    );
    const states = sink.events
      .filter((e) => e.event === 'egress.updated' && (e.data as { egressId: string }).egressId === id)
      .sort((x, y) => x.createdAt.localeCompare(y.createdAt))
      .map((e) => (e.data as EgressView).state);
    expect(states).toEqual(['starting', 'active', 'reconnecting', 'active', 'stopped']);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
