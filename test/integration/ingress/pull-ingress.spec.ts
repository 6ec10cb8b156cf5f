import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { IngressView } from '../../../src/ingress/ingress.schemas';
import { api } from '../../helpers/api';
import { BLUE, GREEN, joinRoom, type TestServer } from '../../helpers/live-room';
import { frameContainsColour, goertzel, rgbToYuv } from '../../helpers/media-analysis';
import { startTestServer, tempDir } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import type { TestClient } from '../../helpers/wrtc-client';
import { freePort } from '../egress/egress-fixtures';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = (c: { r: number; g: number; b: number }) =>
  '0x' + [c.r, c.g, c.b].map((v) => v.toString(16).padStart(2, '0')).join('');

/** A live SRT source (ffmpeg as the SRT listener), as a camera or an encoder would offer it. */
function srtSource(port: number): ChildProcess {
  return spawn(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error'],
      ...['-re', '-f', 'lavfi', '-i', `color=c=${hex(BLUE)}:size=640x360:rate=15`],
      ...['-re', '-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=48000'],
      ...[
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-tune',
        'zerolatency',
        '-g',
        '15',
        '-pix_fmt',
        'yuv420p',
      ],
      ...['-c:a', 'aac', '-f', 'mpegts', `srt://127.0.0.1:${port}?mode=listener`],
    ],
    { stdio: 'ignore' },
  );
}

describe('pull ingest (a looping file and a live SRT source pulled into a room)', () => {
  const files = tempDir('ingest-files');
  let server: TestServer;
  let viewer: TestClient;
  const sources: ChildProcess[] = [];
  beforeAll(async () => {
    // A 2 s clip: green picture, 660 Hz tone.
    execFileSync('ffmpeg', [
      ...['-v', 'error', '-y'],
      ...['-f', 'lavfi', '-i', `color=c=${hex(GREEN)}:size=640x360:rate=15`],
      ...['-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000'],
      ...['-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac'],
      ...['-movflags', '+faststart', path.join(files, 'clip.mp4')],
    ]);
    server = await startTestServer({ INGRESS_FILES_DIR: files });
  });
  afterAll(async () => {
    for (const s of sources) s.kill('SIGKILL');
    await viewer?.close();
    await server?.close();
  });

  it('plays a file in a loop and a live SRT source that stalls, shows the placeholder and comes back by itself', async () => {
    viewer = await joinRoom(server, 'pull-room', 'viewer', { role: 'viewer' });
    const post = (body: unknown) =>
      api<IngressView>(server, '/api/rooms/pull-room/ingress', { method: 'POST', body });

    const clip = await post({ type: 'url', displayName: 'Clip', url: 'clip.mp4', loop: true });
    expect(clip.status).toBe(201);
    expect(clip.body).toMatchObject({ type: 'url', url: 'clip.mp4', loop: true, state: 'publishing' });
    const green = rgbToYuv(GREEN);
    await waitFor(
      () => !!viewer.latestFrame && frameContainsColour(viewer.latestFrame, green),
      20000,
      'green',
    );
    await waitFor(() => goertzel(viewer.recentAudio(1000), 48000, 660) > 0.1, 15000, '660 Hz');
    await sleep(4000); // past the end of the 2 s clip: it loops
    expect(frameContainsColour(viewer.latestFrame!, green)).toBe(true);
    expect(goertzel(viewer.recentAudio(1000), 48000, 660)).toBeGreaterThan(0.1);

    // SRT: a live source; it dies (stall) and comes back.
    const port = await freePort();
    sources.push(srtSource(port));
    await sleep(500);
    const srt = await post({ type: 'url', displayName: 'SRT', url: `srt://127.0.0.1:${port}?mode=caller` });
    expect(srt.status).toBe(201);
    const blue = rgbToYuv(BLUE);
    await waitFor(() => !!viewer.latestFrame && frameContainsColour(viewer.latestFrame, blue), 20000, 'blue');
    sources[0].kill('SIGKILL');
    await waitFor(() => !frameContainsColour(viewer.latestFrame!, blue), 20000, 'the placeholder');
    expect(frameContainsColour(viewer.latestFrame!, green)).toBe(true); // the room goes on
    sources.push(srtSource(port));
    await waitFor(() => frameContainsColour(viewer.latestFrame!, blue), 30000, 'blue again');

    for (const id of [clip.body.id, srt.body.id])
      expect((await api(server, `/api/ingress/${id}`, { method: 'DELETE' })).status).toBe(200);
  });

  it('refuses sources outside INGRESS_FILES_DIR and unsupported schemes', async () => {
    const post = (url: string) =>
      api(server, '/api/rooms/pull-room/ingress', {
        method: 'POST',
        body: { type: 'url', displayName: 'x', url },
      });
    for (const url of [
      '../clip.mp4',
      `${files}/../etc/passwd`,
      '/etc/passwd',
      'file:///etc/passwd',
      'missing.mp4',
      'ftp://example.com/a.mp4',
      'rtsp://',
    ])
      expect([url, (await post(url)).status]).toEqual([url, 422]);
  });
});
