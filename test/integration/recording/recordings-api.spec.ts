import { Queue } from 'bullmq';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { FINALIZE_QUEUE, type RecordingManifest } from '../../../workers/protocol/recording';
import { REDIS_URL } from '../../../src/redis/redis.module';
import { MediaSupervisor } from '../../../src/media/media-supervisor.service';
import { adminFetch, api, createRoom } from '../../helpers/api';
import { frameContainsColour, goertzel, rgbToYuv } from '../../helpers/media-analysis';
import { childPids, spawnServer, startTestServer } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import { TestClient } from '../../helpers/wrtc-client';
import { expectWorkerDeaths } from '../../helpers/worker-deaths';
import { ManifestStore } from '../../../workers/kernel/recordings/manifest-store';
import { decodeAudio, manifestFor, newRecordingId, writeTestSegments } from './media-fixtures';
import { BLUE, RED, useLiveServer } from '../../helpers/live-room';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function probe(
  file: string,
): Promise<{ duration: number; codecs: string[]; width: number; height: number }> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-show_format',
    '-show_streams',
    '-of',
    'json',
    file,
  ]);
  const j = JSON.parse(stdout) as {
    format: { duration: string };
    streams: { codec_name: string; width?: number; height?: number }[];
  };
  const v = j.streams.find((s) => s.width);
  return {
    duration: Number(j.format.duration),
    codecs: j.streams.map((s) => s.codec_name).sort(),
    width: v?.width ?? 0,
    height: v?.height ?? 0,
  };
}

async function frameAt(file: string, sec: number, w: number, h: number) {
  const { stdout } = await run(
    'ffmpeg',
    [
      '-v',
      'error',
      '-ss',
      String(sec),
      '-i',
      file,
      '-frames:v',
      '1',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'yuv420p',
      '-',
    ],
    {
      encoding: 'buffer',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return { width: w, height: h, data: new Uint8Array(stdout as unknown as Buffer) };
}

async function waitForState(
  server: { url: string },
  id: string,
  states: string[],
  timeoutMs = 90000,
): Promise<RecordingManifest> {
  const deadline = Date.now() + timeoutMs;
  let last: RecordingManifest | null = null;
  while (Date.now() < deadline) {
    // One request at a time; a transient connection error is just another poll.
    const r = await api<RecordingManifest>(server, `/api/recordings/${id}`).catch(() => null);
    if (r?.status === 200) {
      last = r.body;
      if (states.includes(last.state)) return last;
    }
    await sleep(250);
  }
  throw new Error(
    `recording ${id} did not reach ${states.join('/')} within ${timeoutMs} ms (last: ${last?.state})`,
  );
}

describe('recordings over REST (real worker, real ffmpeg, real BullMQ finalize worker)', () => {
  const live = useLiveServer();
  const { clients } = live;

  it('records 10 s of two participants into an MP4 that holds both colours, both tones and lasts 10 ± 1 s', async () => {
    await createRoom(live.server, { id: 'rec-room' });
    const a = await TestClient.connect(live.server.url, {
      roomId: 'rec-room',
      displayName: 'A',
      colour: RED,
      toneHz: 440,
    });
    const b = await TestClient.connect(live.server.url, {
      roomId: 'rec-room',
      displayName: 'B',
      colour: BLUE,
      toneHz: 880,
    });
    clients.push(a, b);
    await waitFor(
      () => !!a.latestFrame && frameContainsColour(a.latestFrame, rgbToYuv(BLUE)),
      45000,
      'media flowing',
    );

    const started = await api<RecordingManifest>(live.server, '/api/rooms/rec-room/recordings', {
      method: 'POST',
      body: {},
    });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ roomId: 'rec-room', state: 'recording' });
    expect(started.body.participantsSeen.map((p) => p.displayName).sort()).toEqual(['A', 'B']);
    const id = started.body.id;
    expect(
      (await api(live.server, '/api/rooms/rec-room/recordings', { method: 'POST', body: {} })).status,
    ).toBe(409);

    await sleep(10000);
    const stopped = await api<RecordingManifest>(live.server, `/api/recordings/${id}/stop`, {
      method: 'POST',
    });
    expect(stopped.status).toBe(200);
    expect(stopped.body.state).toBe('finalizing');
    // The manifest says what the capture could not keep: no sound on this (test) load.
    expect(stopped.body.captureLosses).toEqual({
      audioDroppedSec: 0,
      videoFramesDropped: expect.any(Number),
    });

    const done = await waitForState(live.server, id, ['ready', 'failed', 'interrupted']);
    expect(done.state).toBe('ready');
    expect(done.captureLosses).toEqual(stopped.body.captureLosses);
    expect(done.media).toMatchObject({ videoCodec: 'h264', audioCodec: 'aac', width: 1280, height: 720 });
    expect(done.files.map((f) => f.kind).sort()).toEqual(['mp4', 'thumbnail']);

    // Download it and check it by content.
    const res = await adminFetch(live.server, `/api/recordings/${id}/download`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${id}.mp4"`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const file = `${fs.mkdtempSync('/tmp/mcu-dl-')}/rec.mp4`;
    fs.writeFileSync(file, bytes);
    const p = await probe(file);
    expect(p.codecs).toEqual(['aac', 'h264']);
    expect(p.duration).toBeGreaterThan(9);
    expect(p.duration).toBeLessThan(11);
    const frame = await frameAt(file, 5, p.width, p.height);
    expect(frameContainsColour(frame, rgbToYuv(RED))).toBe(true);
    expect(frameContainsColour(frame, rgbToYuv(BLUE))).toBe(true);
    const pcm = await decodeAudio(file, 2, 6);
    expect(goertzel(pcm, 48000, 440)).toBeGreaterThan(0.2);
    expect(goertzel(pcm, 48000, 880)).toBeGreaterThan(0.2);

    // A ranged download returns exactly those bytes; the ETag revalidates.
    const ranged = await adminFetch(live.server, `/api/recordings/${id}/download`, {
      headers: { range: 'bytes=100-1099' },
    });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 100-1099/${bytes.length}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(bytes.subarray(100, 1100))).toBe(true);
    const etag = res.headers.get('etag') as string;
    expect(
      (
        await adminFetch(live.server, `/api/recordings/${id}/download`, {
          headers: { 'if-none-match': etag },
        })
      ).status,
    ).toBe(304);
    expect(
      (
        await adminFetch(live.server, `/api/recordings/${id}/download`, {
          headers: { range: `bytes=${bytes.length + 5}-` },
        })
      ).status,
    ).toBe(416);

    const thumb = await adminFetch(live.server, `/api/recordings/${id}/thumbnail`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');

    // Listing and filters.
    const list = await api<{ items: RecordingManifest[]; total: number }>(
      live.server,
      '/api/recordings?roomId=rec-room&state=ready&limit=5',
    );
    expect(list.status).toBe(200);
    expect(list.body.items.map((m) => m.id)).toContain(id);
    expect((await api<{ items: unknown[] }>(live.server, '/api/recordings?roomId=nope')).body.items).toEqual(
      [],
    );
    expect((await api(live.server, '/api/recordings?limit=0')).status).toBe(422);
    expect((await api(live.server, '/api/recordings?state=bogus')).status).toBe(422);
  });

  it('bad ids, path escapes and missing auth are refused and change nothing', async () => {
    expect((await adminFetch(live.server, '/api/recordings', { key: null })).status).toBe(401);
    expect((await adminFetch(live.server, '/api/recordings/rec_doesnotexist')).status).toBe(404);
    for (const bad of ['..%2F..%2Fetc%2Fpasswd', 'rec_..%2F..%2Fx', '%2Fetc%2Fpasswd', 'manifest.json']) {
      const r = await adminFetch(live.server, `/api/recordings/${bad}/download`);
      expect([400, 404, 422]).toContain(r.status);
      const body = (await r.json()) as { error: string };
      expect(body.error).toBeDefined();
    }
    expect(
      (await api(live.server, '/api/rooms/unknown-room/recordings', { method: 'POST', body: {} })).status,
    ).toBe(404);
    await createRoom(live.server, { id: 'empty-room' });
    expect(
      (await api(live.server, '/api/rooms/empty-room/recordings', { method: 'POST', body: {} })).status,
    ).toBe(409);
    expect(
      (await api(live.server, '/api/rooms/empty-room/recordings', { method: 'POST', body: { webm: 'yes' } }))
        .status,
    ).toBe(400);
  });

  it.each(['media worker', 'ffmpeg'])(
    'SIGKILL of the %s mid-recording still yields a playable recording marked interrupted',
    async (victim) => {
      const roomId = victim === 'ffmpeg' ? 'crash-ffmpeg' : 'crash-worker';
      await createRoom(live.server, { id: roomId });
      const c = await TestClient.connect(live.server.url, {
        roomId,
        displayName: 'C',
        colour: RED,
        toneHz: 500,
      });
      clients.push(c);
      await waitFor(() => c.framesReceived > 10, 45000, 'media flowing');
      const started = await api<RecordingManifest>(live.server, `/api/rooms/${roomId}/recordings`, {
        method: 'POST',
        body: {},
      });
      const id = started.body.id;
      await sleep(5000);
      const workerPid = live.server.app.get(MediaSupervisor).get(roomId)?.pid as number;
      const commandOf = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
      const children = childPids(workerPid);
      const ffmpegPid = children.find((pid) => path.basename(commandOf(pid)) === 'ffmpeg');
      if (ffmpegPid === undefined) throw new Error(`no ffmpeg among ${children.map(commandOf).join(', ')}`);
      expect(ffmpegPid).toBeDefined();
      // ffmpeg is the worker's child, not a worker: only the media worker's death is counted.
      if (victim === 'media worker') expectWorkerDeaths(live.server, 1);
      process.kill(victim === 'ffmpeg' ? (ffmpegPid as number) : workerPid, 'SIGKILL');
      const done = await waitForState(live.server, id, ['ready', 'failed', 'interrupted']);
      expect(done.state).toBe('interrupted');
      expect(done.interrupted).toBe(true);
      expect(done.media?.durationSec).toBeGreaterThan(2);
      const res = await adminFetch(live.server, `/api/recordings/${id}/download`);
      const file = `${fs.mkdtempSync('/tmp/mcu-dl-')}/int.mp4`;
      fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
      const p = await probe(file);
      expect(p.codecs).toEqual(['aac', 'h264']);
      expect(p.duration).toBeGreaterThan(2);
      if (victim === 'ffmpeg') {
        // Only the recording died: the room and its media go on, and it can be recorded again.
        const framesBefore = c.framesReceived;
        await waitFor(() => c.framesReceived > framesBefore + 10, 15000, 'media after the ffmpeg crash');
        const again = await api(live.server, `/api/rooms/${roomId}/recordings`, { method: 'POST', body: {} });
        expect(again.status).toBe(201);
      }
    },
  );

  it('a stalled media worker still yields a recording as long as the wall-clock time it covered', async () => {
    await createRoom(live.server, { id: 'stall-rec' });
    const c = await TestClient.connect(live.server.url, {
      roomId: 'stall-rec',
      displayName: 'S',
      colour: RED,
      toneHz: 600,
    });
    clients.push(c);
    await waitFor(() => c.framesReceived > 10, 45000, 'media flowing');
    const pid = live.server.app.get(MediaSupervisor).get('stall-rec')?.pid as number;
    // The capture starts and stops somewhere inside each request; on a loaded machine a request
    // may take a second or more, so the wall-clock span is bounded from both sides.
    const startSent = Date.now();
    const started = await api<RecordingManifest>(live.server, '/api/rooms/stall-rec/recordings', {
      method: 'POST',
      body: {},
    });
    const startAnswered = Date.now();
    await sleep(2000);
    // Freeze the worker's event loop for 1.5 s: its clocks skip ahead instead of bursting.
    process.kill(pid, 'SIGSTOP');
    await sleep(1500);
    process.kill(pid, 'SIGCONT');
    await sleep(2500);
    const stopSent = Date.now();
    await api(live.server, `/api/recordings/${started.body.id}/stop`, { method: 'POST' });
    const stopAnswered = Date.now();
    const done = await waitForState(live.server, started.body.id, ['ready', 'failed', 'interrupted']);
    expect(done.state).toBe('ready');
    // A recording that lost the frozen 1.5 s would fall below the shortest possible span.
    const durationSec = done.media?.durationSec ?? 0;
    expect(durationSec).toBeGreaterThan((stopSent - startAnswered) / 1000 - 0.5);
    expect(durationSec).toBeLessThan((stopAnswered - startSent) / 1000 + 0.5);
  });

  it('auto-record rooms start recording on the first join, and deleting the room stops and finalizes it', async () => {
    await createRoom(live.server, { id: 'auto-rec', autoRecord: true });
    const c = await TestClient.connect(live.server.url, {
      roomId: 'auto-rec',
      displayName: 'Auto',
      colour: BLUE,
      toneHz: 300,
    });
    clients.push(c);
    let rec: RecordingManifest | undefined;
    for (let i = 0; i < 120 && rec?.state !== 'recording'; i++) {
      const r = await api<{ items: RecordingManifest[] }>(
        live.server,
        '/api/recordings?roomId=auto-rec',
      ).catch(() => null);
      rec = r?.body.items[0];
      if (rec?.state !== 'recording') await sleep(250);
    }
    expect(rec?.state).toBe('recording');
    // Someone joining mid-recording is told that the call is being recorded.
    const late = await TestClient.connect(live.server.url, {
      roomId: 'auto-rec',
      displayName: 'Late',
      role: 'viewer',
    });
    clients.push(late);
    await waitFor(
      () => late.eventsNamed('recording-state').some((e) => (e as { state: string }).state === 'recording'),
      15000,
      'recording-state for the late joiner',
    );
    await sleep(3000);
    expect((await adminFetch(live.server, '/api/rooms/auto-rec', { method: 'DELETE' })).status).toBe(204);
    const done = await waitForState(live.server, (rec as RecordingManifest).id, [
      'ready',
      'failed',
      'interrupted',
    ]);
    expect(['ready', 'interrupted']).toContain(done.state);
    expect(done.media?.durationSec).toBeGreaterThan(1);
    // A finished recording can be deleted, with its finished finalize job (kept in Redis for
    // inspection until then: left behind, every deleted recording was a key more, seen in the
    // soak benchmark); a second delete is a 404.
    const queue = new Queue(FINALIZE_QUEUE, {
      connection: { url: live.server.app.get<symbol, string>(REDIS_URL) },
    });
    try {
      expect(await (await queue.getJob(done.id))?.getState()).toBe('completed');
      expect((await adminFetch(live.server, `/api/recordings/${done.id}`, { method: 'DELETE' })).status).toBe(
        204,
      );
      expect(await queue.getJob(done.id)).toBeUndefined();
    } finally {
      await queue.close();
    }
    expect((await adminFetch(live.server, `/api/recordings/${done.id}`, { method: 'DELETE' })).status).toBe(
      404,
    );
  });
});

describe('graceful stop and restart of the real server process', () => {
  it('SIGTERM closes the active recording and queues its finalize; the next start finishes it', async () => {
    const env = {
      RECORDINGS_DIR: fs.mkdtempSync('/tmp/mcu-rec-'),
      DATA_DIR: fs.mkdtempSync('/tmp/mcu-data-'),
    };
    const srv = await spawnServer(env);
    await createRoom(srv, { id: 'graceful' });
    const c = await TestClient.connect(srv.url, {
      roomId: 'graceful',
      displayName: 'G',
      colour: RED,
      toneHz: 400,
    });
    await waitFor(() => c.framesReceived > 10, 45000, 'media flowing');
    const started = await api<RecordingManifest>(srv, '/api/rooms/graceful/recordings', {
      method: 'POST',
      body: {},
    });
    expect(started.status).toBe(201);
    await sleep(5000);
    await c.close();
    expect(await srv.stop('SIGTERM')).toBe(0);
    const manifest = JSON.parse(
      fs.readFileSync(`${env.RECORDINGS_DIR}/${started.body.id}/manifest.json`, 'utf8'),
    ) as RecordingManifest;
    // Stopped cleanly (not interrupted); finalized now or by the next start.
    expect(['finalizing', 'ready']).toContain(manifest.state);
    expect(manifest.interrupted).toBe(false);

    const next = await spawnServer(env);
    try {
      const done = await waitForState(next, started.body.id, ['ready', 'failed', 'interrupted']);
      expect(done.state).toBe('ready');
      expect(done.media?.durationSec).toBeGreaterThan(3);
    } finally {
      await next.stop('SIGTERM');
    }
  });
});

describe('start-up recovery', () => {
  it('a recording left in "recording" by a crashed server is finalized as interrupted at the next start', async () => {
    const recordingsDir = fs.mkdtempSync('/tmp/mcu-rec-');
    const id = newRecordingId();
    const store = new ManifestStore(recordingsDir);
    await store.create(manifestFor(id, { width: 320, height: 180, fps: 15 }));
    await writeTestSegments(store.dirOf(id), 4, 1);
    const server = await startTestServer({ RECORDINGS_DIR: recordingsDir });
    try {
      const done = await waitForState(server, id, ['ready', 'failed', 'interrupted']);
      expect(done.state).toBe('interrupted');
      expect(done.interrupted).toBe(true);
      expect(done.media?.durationSec).toBeGreaterThan(3);
      expect(done.files.map((f) => f.kind)).toContain('mp4');
    } finally {
      await server.close();
    }
  });
});
