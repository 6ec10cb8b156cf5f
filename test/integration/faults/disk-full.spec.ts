import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { RecordingManifest } from '../../../workers/protocol/recording';
import { unhandledRejectionCount } from '../../../src/common/process-faults';
import { api, createRoom } from '../../helpers/api';
import { startTestServer, tempDir } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import { TestClient } from '../../helpers/wrtc-client';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RED = { r: 220, g: 30, b: 30 };
const BLUE = { r: 30, g: 60, b: 220 };
const isRoot = process.getuid?.() === 0;

/** Writes a file until the filesystem refuses (ENOSPC): the disk is now full. */
function fillDisk(file: string): void {
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(64 * 1024, 7);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
}

async function poll<T>(
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await fn();
    if (ok(last)) return last;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

// A small real filesystem needs mount(8): root only (CI runs as root).
(isRoot ? describe : describe.skip)('a recordings disk that fills up', () => {
  const mnt = tempDir('small-disk');
  const filler = path.join(mnt, 'filler.bin');
  let server: Awaited<ReturnType<typeof startTestServer>>;
  const clients: TestClient[] = [];
  const hooks: { event: string; data: Record<string, unknown> }[] = [];
  let receiver: http.Server;

  beforeAll(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt]);
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hooks.push(JSON.parse(body) as { event: string; data: Record<string, unknown> });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    server = await startTestServer({
      RECORDINGS_DIR: mnt,
      RECORDING_MIN_FREE_MB: '4',
      WEBHOOK_URLS: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server?.close();
    receiver?.close();
    try {
      execFileSync('umount', ['-l', mnt]);
    } catch {
      /* not mounted */
    }
  });

  it('ends that recording only (failed: disk_full, segments kept); rooms go on; new recordings get 507; it finalizes once space is back', async () => {
    await createRoom(server, { id: 'full' });
    await createRoom(server, { id: 'other' });
    const a = await TestClient.connect(server.url, {
      roomId: 'full',
      displayName: 'A',
      colour: RED,
      toneHz: 440,
    });
    const b = await TestClient.connect(server.url, {
      roomId: 'other',
      displayName: 'B',
      colour: BLUE,
      toneHz: 660,
    });
    clients.push(a, b);
    await waitFor(() => a.framesReceived > 10 && b.framesReceived > 10, 45000, 'media flowing');

    const rec = await api<RecordingManifest>(server, '/api/rooms/full/recordings', {
      method: 'POST',
      body: {},
    });
    expect(rec.status).toBe(201);
    const segments = path.join(mnt, rec.body.id, 'segments');
    await waitFor(
      () => fs.existsSync(segments) && fs.readdirSync(segments).length >= 2,
      30000,
      'two segments',
    );
    fillDisk(filler);

    const failed = await poll(
      () => api<RecordingManifest>(server, `/api/recordings/${rec.body.id}`),
      (r) => r.body.state !== 'recording',
      60000,
      'the recording to end',
    );
    expect(failed.body).toMatchObject({ state: 'failed', failureReason: 'disk_full' });
    await waitFor(() => hooks.some((h) => h.event === 'recording.failed'), 20000, 'recording.failed webhook');
    expect(hooks.find((h) => h.event === 'recording.failed')?.data).toMatchObject({
      recordingId: rec.body.id,
      reason: 'disk_full',
    });

    // Both rooms go on, the server too.
    const [fa, fb] = [a.framesReceived, b.framesReceived];
    await sleep(2000);
    expect(a.framesReceived).toBeGreaterThan(fa + 10);
    expect(b.framesReceived).toBeGreaterThan(fb + 10);
    expect(a.eventsNamed('room-ended')).toHaveLength(0);
    expect(a.eventsNamed('recording-state')).toContainEqual({ recordingId: rec.body.id, state: 'failed' });

    // Too little space: refused with a clear code; readiness shows it (without failing).
    const refused = await api(server, '/api/rooms/other/recordings', { method: 'POST', body: {} });
    expect(refused.status).toBe(507);
    expect(refused.body).toMatchObject({ error: 'insufficient_storage' });
    const ready = await api<{ checks: Record<string, string> }>(server, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.recordingsDisk).toBe('low');
    expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(
      /^mcu_recordings_disk_free_bytes \d+/m,
    );

    // Space comes back: the state reaches the manifest on disk, and the kept segments finalize.
    fs.rmSync(filler);
    await waitFor(
      () => {
        const m = JSON.parse(
          fs.readFileSync(path.join(mnt, rec.body.id, 'manifest.json'), 'utf8'),
        ) as RecordingManifest;
        return m.state === 'failed' && m.failureReason === 'disk_full';
      },
      20000,
      'the failed state on disk',
    );
    const again = await api<RecordingManifest>(server, `/api/recordings/${rec.body.id}/finalize`, {
      method: 'POST',
    });
    expect(again.status).toBe(202);
    const done = await poll(
      () => api<RecordingManifest>(server, `/api/recordings/${rec.body.id}`),
      (r) => ['ready', 'failed', 'interrupted'].includes(r.body.state),
      90000,
      'finalize',
    );
    expect(done.body.state).toBe('interrupted');
    expect(done.body.media).toMatchObject({ videoCodec: 'h264', audioCodec: 'aac' });
    expect(done.body.media?.durationSec).toBeGreaterThan(2);
    expect(unhandledRejectionCount()).toBe(0);
  });
});
