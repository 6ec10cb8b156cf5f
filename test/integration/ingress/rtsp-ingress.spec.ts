import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { IngressView } from '../../../src/ingress/ingress.schemas';
import { api } from '../../helpers/api';
import { BLUE, joinRoom, RED, type TestServer } from '../../helpers/live-room';
import { frameContainsColour, goertzel, rgbToYuv } from '../../helpers/media-analysis';
import { startTestServer } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import type { TestClient } from '../../helpers/wrtc-client';
import { freePort } from '../egress/egress-fixtures';

const SCRIPT = path.join(__dirname, '../../helpers/rtsp-server.py');
const hex = (c: { r: number; g: number; b: number }) =>
  [c.r, c.g, c.b].map((v) => v.toString(16).padStart(2, '0')).join('');

/** GStreamer's RTSP server (test/helpers/rtsp-server.py) on `port`; resolves once it listens. */
function rtspServer(port: number, colour: typeof RED, toneHz: number): Promise<ChildProcess> {
  // Debian's python3, which python3-gi belongs to (a version manager's python3 may come first in PATH).
  const proc = spawn('/usr/bin/python3', [SCRIPT, String(port), hex(colour), String(toneHz)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`RTSP server not ready: ${err}`)), 20000);
    proc.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`RTSP server exited (${code}): ${err}`));
    });
  });
}

/** Command lines of running processes that contain every one of `parts`. */
function processesWith(parts: string[]): string[][] {
  const found: string[][] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let args: string[];
    try {
      args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (parts.every((p) => args.includes(p))) found.push(args);
  }
  return found;
}

/**
 * RTSP pull ingest from a real RTSP server (GStreamer's, H.264 + AAC, a colour and a tone), with
 * RTP over TCP and over UDP: the viewer sees the colour and hears the tone; the server dies
 * (stall): the tile turns to the placeholder, the participant stays; the server comes back: so
 * does the picture, by itself.
 */
describe('RTSP pull ingest from GStreamer’s RTSP server, over TCP and UDP', () => {
  let server: TestServer;
  let viewer: TestClient;
  const sources: ChildProcess[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    viewer = await joinRoom(server, 'rtsp-room', 'viewer', { role: 'viewer' });
  });
  afterAll(async () => {
    for (const s of sources) s.kill('SIGKILL');
    await viewer?.close();
    await server?.close();
  });

  const cases = [
    { transport: 'tcp', colour: RED, toneHz: 440 },
    { transport: 'udp', colour: BLUE, toneHz: 880 },
  ] as const;

  it.each(cases)(
    'over $transport: colour and tone; a stall shows the placeholder and the source comes back',
    async ({ transport, colour, toneHz }) => {
      const port = await freePort();
      const url = `rtsp://127.0.0.1:${port}/live`;
      sources.push(await rtspServer(port, colour, toneHz));
      const t0 = Date.now();
      const res = await api<IngressView>(server, '/api/rooms/rtsp-room/ingress', {
        method: 'POST',
        body: { type: 'url', displayName: `RTSP ${transport}`, url, rtspTransport: transport },
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ url, rtspTransport: transport, state: 'publishing' });
      const yuv = rgbToYuv(colour);
      const shows = () => !!viewer.latestFrame && frameContainsColour(viewer.latestFrame, yuv);
      await waitFor(shows, 30000, `${transport}: the colour`);
      const firstPicture = Date.now() - t0;
      await waitFor(() => goertzel(viewer.recentAudio(1000), 48000, toneHz) > 0.1, 20000, `${toneHz} Hz`);
      // ffmpeg was asked for this transport (a UDP request the server refused would have failed:
      // ffmpeg does not fall back to TCP when UDP alone is allowed).
      expect(processesWith(['-rtsp_transport', transport, url]).length).toBe(1);

      // Stall: the RTSP server dies.
      sources[sources.length - 1].kill('SIGKILL');
      const t1 = Date.now();
      await waitFor(() => !shows(), 30000, `${transport}: the placeholder`);
      const placeholderAfter = Date.now() - t1;
      const during = await api<IngressView>(server, `/api/ingress/${res.body.id}`);
      expect(during.body.state).not.toBe('ended');
      const roster = await api<{ participants: { participantId: string }[] }>(server, '/api/rooms/rtsp-room');
      expect(roster.body.participants.map((p) => p.participantId)).toContain(res.body.participantId);

      // Back: the same URL serves again; the ingest reopens it by itself.
      sources.push(await rtspServer(port, colour, toneHz));
      const t2 = Date.now();
      await waitFor(shows, 45000, `${transport}: the colour again`);
      const backAfter = Date.now() - t2;
      process.stdout.write(
        `[rtsp-ingress] ${transport}: first picture ${firstPicture} ms after POST; placeholder ${placeholderAfter} ms after the server died; picture back ${backAfter} ms after it restarted\n`,
      );
      expect((await api(server, `/api/ingress/${res.body.id}`, { method: 'DELETE' })).status).toBe(200);
      sources[sources.length - 1].kill('SIGKILL');
      await waitFor(() => !shows(), 20000, `${transport}: the tile to leave`);
    },
  );

  it('refuses rtspTransport for a source that is not RTSP, and an unknown transport', async () => {
    const post = (body: unknown) => api(server, '/api/rooms/rtsp-room/ingress', { method: 'POST', body });
    expect(
      (await post({ type: 'url', displayName: 'x', url: 'srt://127.0.0.1:9000', rtspTransport: 'udp' }))
        .status,
    ).toBe(422);
    expect(
      (await post({ type: 'url', displayName: 'x', url: 'rtsp://127.0.0.1:9/live', rtspTransport: 'sctp' }))
        .status,
    ).toBe(422);
  });
});
