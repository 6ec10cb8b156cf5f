import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { RecordingsService } from '../../../src/recordings/recordings.service';
import { RECORDING_FILES } from '../../../workers/protocol/recording';
import { adminFetch } from '../../helpers/api';
import { startTestServer } from '../../helpers/server';
import { manifestFor, newRecordingId } from './media-fixtures';

/**
 * The HTTP semantics of recording downloads, on a finished recording put straight into the
 * store (its bytes need not be a playable MP4 for this: recordings-api.spec checks the media).
 */
describe('recording downloads: ranges, validators, HEAD and the file name', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  const id = newRecordingId();
  const bytes = randomBytes(64 * 1024 + 17);
  const thumb = randomBytes(2048);
  const etag = `"${createHash('sha256').update(bytes).digest('hex')}"`;
  const url = `/api/recordings/${id}/download`;
  const get = (headers: Record<string, string> = {}, method = 'GET') =>
    adminFetch(server, url, { headers, method });

  beforeAll(async () => {
    server = await startTestServer();
    const store = server.app.get(RecordingsService).store;
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    await store.create({
      ...manifestFor(id, { width: 320, height: 180, fps: 15 }),
      state: 'ready',
      files: [
        { name: RECORDING_FILES.mp4, kind: 'mp4', sizeBytes: bytes.length, sha256: sha(bytes) },
        { name: RECORDING_FILES.thumbnail, kind: 'thumbnail', sizeBytes: thumb.length, sha256: sha(thumb) },
      ],
    });
    await fs.writeFile(store.pathOf(id, RECORDING_FILES.mp4), bytes);
    await fs.writeFile(store.pathOf(id, RECORDING_FILES.thumbnail), thumb);
  });

  afterAll(async () => {
    await server.close();
  });

  it('sends the whole file with the manifest hash as a strong ETag and an RFC 6266 file name', async () => {
    const res = await get();
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(etag);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('content-length')).toBe(String(bytes.length));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('cache-control')).toBe('private, max-age=0, must-revalidate');
    expect(res.headers.get('last-modified')).toBeNull();
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${id}.mp4"`);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('answers one range with 206 and exactly those bytes, a suffix range too', async () => {
    const res = await get({ range: 'bytes=100-1099' });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 100-1099/${bytes.length}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(100, 1100))).toBe(true);
    const tail = await get({ range: 'bytes=-10' });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(bytes.length - 10))).toBe(true);
  });

  it.each(['bytes=abc', 'bytes=', 'items=0-10', 'bytes=0-1,5-6'])(
    'ignores a Range it cannot serve as one range (%s): 200 and the whole file',
    async (range) => {
      const res = await get({ range });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-range')).toBeNull();
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    },
  );

  it('answers an unsatisfiable range with 416 and the size in Content-Range', async () => {
    const res = await get({ range: `bytes=${bytes.length + 5}-` });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    expect(await res.json()).toMatchObject({ error: 'range_not_satisfiable' });
  });

  it('revalidates with If-None-Match (304) and serves a changed validator in full', async () => {
    const same = await get({ 'if-none-match': etag });
    expect(same.status).toBe(304);
    expect(same.headers.get('etag')).toBe(etag);
    expect((await same.arrayBuffer()).byteLength).toBe(0);
    expect((await get({ 'if-none-match': '"something-else"' })).status).toBe(200);
  });

  it('honours If-Range: the range for the current ETag, the whole file for another', async () => {
    const current = await get({ range: 'bytes=0-9', 'if-range': etag });
    expect(current.status).toBe(206);
    const stale = await get({ range: 'bytes=0-9', 'if-range': '"an-older-version"' });
    expect(stale.status).toBe(200);
    expect(Buffer.from(await stale.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const res = await get({}, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(bytes.length));
    expect(res.headers.get('etag')).toBe(etag);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it('serves the thumbnail inline, and says 404 for a format that was not produced', async () => {
    const res = await adminFetch(server, `/api/recordings/${id}/thumbnail`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('content-disposition')).toBe(`inline; filename="${id}.jpg"`);
    expect(Buffer.from(await res.arrayBuffer()).equals(thumb)).toBe(true);
    const webm = await adminFetch(server, `${url}?format=webm`);
    expect(webm.status).toBe(404);
  });

  it('says 404, not a broken stream, when a listed file is missing from storage', async () => {
    const store = server.app.get(RecordingsService).store;
    await fs.rm(store.pathOf(id, RECORDING_FILES.thumbnail));
    const res = await adminFetch(server, `/api/recordings/${id}/thumbnail`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
  });
});
