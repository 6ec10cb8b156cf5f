import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { RecordingManifest } from '../../../workers/protocol/recording';
import { MediaSupervisor } from '../../../src/media/media-supervisor.service';
import { adminFetch, api, createRoom } from '../../helpers/api';
import { frameContainsColour, rgbToYuv } from '../../helpers/media-analysis';
import { RED, useLiveServer } from '../../helpers/live-room';
import { ffmpegChildren } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import { probeStreams } from './media-fixtures';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `get` (one call at a time) until it returns a value. */
async function poll<T>(get: () => Promise<T | null>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await get();
    if (v !== null) return v;
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function readRecording(server: { url: string }, id: string): Promise<RecordingManifest | null> {
  const r = await api<RecordingManifest>(server, `/api/recordings/${id}`).catch(() => null);
  return r?.status === 200 ? r.body : null;
}

/**
 * A recording start the media worker answers after the control plane gave up on it
 * (MEDIA_REQUEST_TIMEOUT_MS; here the worker is frozen with SIGSTOP past it). Found by the soak
 * benchmark on a loaded machine: the worker carried the start out when it caught up, its capture
 * ffmpeg ran on with nobody able to stop it (the recording was `failed`), and every later start in
 * the room was refused with "already recording". Now the control plane follows a start it gave up
 * on with a stop of that recording id, and the worker ends any capture still starting or running
 * under another id before it starts a new one.
 */
describe('a recording start the media worker answers too late', () => {
  const live = useLiveServer({ MEDIA_REQUEST_TIMEOUT_MS: '3000' });

  it('leaves no orphan capture: the abandoned recording settles and the room records again at once', async () => {
    const roomId = 'late-rec';
    await createRoom(live.server, { id: roomId });
    const alice = await live.join(roomId, 'alice', { colour: RED, toneHz: 440 });
    await waitFor(() => alice.framesReceived > 10, 45000, 'media flowing');
    const workerPid = live.server.app.get(MediaSupervisor).get(roomId)?.pid;
    if (!workerPid) throw new Error('no media worker for the room');

    process.kill(workerPid, 'SIGSTOP');
    let first: { status: number; body: { error?: string } };
    try {
      // Answered by the control plane when its 3 s wait for the frozen worker runs out.
      first = await api<{ error?: string }>(live.server, `/api/rooms/${roomId}/recordings`, {
        method: 'POST',
        body: {},
      });
    } finally {
      process.kill(workerPid, 'SIGCONT');
    }
    expect(first.status).toBe(504);
    const abandoned = (
      await api<{ items: RecordingManifest[] }>(live.server, `/api/recordings?roomId=${roomId}`)
    ).body.items;
    expect(abandoned).toHaveLength(1);
    const abandonedId = abandoned[0].id;
    expect(abandoned[0].state).toBe('failed');

    // At once, while the worker is still catching up on the late start and its compensating
    // stop: the worker handles requests in order, so this start finds the abandoned capture
    // ending (or ended) and starts its own. On a machine so loaded that the worker needs more
    // than the request timeout to catch up, that start is itself abandoned (504) and stopped;
    // the next one must then succeed (without the fix every one is a 409, "already recording").
    let second: { status: number; body: RecordingManifest } | null = null;
    for (let attempt = 0; attempt < 3 && second?.status !== 201; attempt++) {
      second = await api<RecordingManifest>(live.server, `/api/rooms/${roomId}/recordings`, {
        method: 'POST',
        body: {},
      });
      expect([201, 504]).toContain(second.status);
    }
    expect(second?.status).toBe(201);
    const id = (second as { body: RecordingManifest }).body.id;
    expect(id).not.toBe(abandonedId);

    // The abandoned recording ends in a clear state: failed, its reason saying that the start
    // timed out and what became of the late capture; or, had the late capture recorded
    // anything, finalized from its segments as interrupted.
    const settled = await poll(
      async () => {
        const m = await readRecording(live.server, abandonedId);
        if (m?.state === 'interrupted') return m;
        if (m?.state === 'failed' && /never started it|started it late/.test(m.failureReason ?? '')) return m;
        return null;
      },
      60000,
      'the abandoned recording to settle',
    );
    if (settled.state === 'failed') {
      expect(settled.failureReason).toMatch(/did not answer recording\.start within 3000 ms/);
    } else {
      expect(settled.interrupted).toBe(true);
    }

    // The only capture left is the new one's.
    await waitFor(
      () => {
        const captures = ffmpegChildren(workerPid);
        return captures.length === 1 && captures[0].cmdline.includes(id);
      },
      30000,
      'one capture ffmpeg, the new recording',
    );
    expect(ffmpegChildren(workerPid).some((c) => c.cmdline.includes(abandonedId))).toBe(false);

    await sleep(4000);
    const stopped = await api<RecordingManifest>(live.server, `/api/recordings/${id}/stop`, {
      method: 'POST',
    });
    expect(stopped.status).toBe(200);
    const done = await poll(
      async () => {
        const m = await readRecording(live.server, id);
        return m && ['ready', 'failed', 'interrupted'].includes(m.state) ? m : null;
      },
      90000,
      'the new recording to be finalized',
    );
    expect(done.state).toBe('ready');
    // No capture ffmpeg outlives its recording.
    await waitFor(() => ffmpegChildren(workerPid).length === 0, 30000, 'no capture ffmpeg left');

    // Playable, and it holds the room.
    const res = await adminFetch(live.server, `/api/recordings/${id}/download`);
    expect(res.status).toBe(200);
    const file = path.join(fs.mkdtempSync('/tmp/mcu-late-rec-'), 'rec.mp4');
    fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const probe = await probeStreams(file);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(probe.durationSec).toBeGreaterThan(2);
    const video = probe.streams.find((s) => s.width) as { width: number; height: number };
    const { stdout: raw } = await run(
      'ffmpeg',
      ['-v', 'error', '-ss', '2', '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-'],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
    );
    const frame = { width: video.width, height: video.height, data: new Uint8Array(raw) };
    expect(frameContainsColour(frame, rgbToYuv(RED))).toBe(true);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
});

/**
 * The same, with a capture that has recorded by the time its stop arrives: the room's worker is
 * the real one behind a shim (test/fixtures/workers/late-recording-start.js) that sends its answer
 * to the first recording.start 8 s late, while the control plane gives up after 3 s.
 */
describe('a recording start answered too late after its capture has recorded', () => {
  const live = useLiveServer({ MEDIA_REQUEST_TIMEOUT_MS: '3000' });

  it('finalizes what the late capture recorded as interrupted, and the room records again', async () => {
    const roomId = 'late-rec-2';
    // Only this room's worker: the supervisor forks the entry it holds when the room starts.
    const supervisor = live.server.app.get(MediaSupervisor);
    supervisor.workerEntry = path.join(__dirname, '../../fixtures/workers/late-recording-start.js');
    let alice;
    try {
      alice = await live.join(roomId, 'alice', { colour: RED, toneHz: 440 });
    } finally {
      supervisor.workerEntry = undefined;
    }
    const joined = alice;
    await waitFor(() => joined.framesReceived > 10, 45000, 'media flowing');
    const workerPid = live.server.app.get(MediaSupervisor).get(roomId)?.pid;
    if (!workerPid) throw new Error('no media worker for the room');

    const first = await api(live.server, `/api/rooms/${roomId}/recordings`, { method: 'POST', body: {} });
    expect(first.status).toBe(504);
    const [abandoned] = (
      await api<{ items: RecordingManifest[] }>(live.server, `/api/recordings?roomId=${roomId}`)
    ).body.items;

    // The compensating stop closed the capture's last segment; its seconds are finalized.
    const settled = await poll(
      async () => {
        const m = await readRecording(live.server, abandoned.id);
        return m && ['interrupted', 'ready'].includes(m.state) ? m : null;
      },
      90000,
      'the abandoned recording to be finalized',
    );
    expect(settled.state).toBe('interrupted');
    expect(settled.interrupted).toBe(true);
    const res = await adminFetch(live.server, `/api/recordings/${abandoned.id}/download`);
    expect(res.status).toBe(200);
    const file = path.join(fs.mkdtempSync('/tmp/mcu-late-rec-'), 'abandoned.mp4');
    fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const probe = await probeStreams(file);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(probe.durationSec).toBeGreaterThan(1);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });

    // The room is free at once (the shim delays only the first start's answer).
    const second = await api<RecordingManifest>(live.server, `/api/rooms/${roomId}/recordings`, {
      method: 'POST',
      body: {},
    });
    expect(second.status).toBe(201);
    await waitFor(
      () => {
        const captures = ffmpegChildren(workerPid);
        return captures.length === 1 && captures[0].cmdline.includes(second.body.id);
      },
      30000,
      'one capture ffmpeg, the new recording',
    );
    await sleep(3000);
    expect(
      (await api(live.server, `/api/recordings/${second.body.id}/stop`, { method: 'POST' })).status,
    ).toBe(200);
    const done = await poll(
      async () => {
        const m = await readRecording(live.server, second.body.id);
        return m && ['ready', 'failed', 'interrupted'].includes(m.state) ? m : null;
      },
      90000,
      'the new recording to be finalized',
    );
    expect(done.state).toBe('ready');
    await waitFor(() => ffmpegChildren(workerPid).length === 0, 30000, 'no capture ffmpeg left');
  });
});
