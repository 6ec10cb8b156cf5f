import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EgressView } from '../../../src/egress/egress.schemas';
import { api } from '../../helpers/api';
import { BLUE, RED, useLiveServer } from '../../helpers/live-room';
import {
  frameContainsColour,
  goertzel,
  meanYuvInRect,
  rgbToYuv,
  yuvDistance,
} from '../../helpers/media-analysis';
import { tempDir } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import { allAudio, lastFrame, probeStreams, waitForEgress } from './egress-fixtures';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Playlist {
  text: string;
  mediaSequence: number;
  segments: string[];
}

async function playlist(
  base: string,
  url: string,
): Promise<{ status: number; cache: string | null; pl: Playlist }> {
  const res = await fetch(base + url);
  const text = res.status === 200 ? await res.text() : '';
  const seq = /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text);
  return {
    status: res.status,
    cache: res.headers.get('cache-control'),
    pl: {
      text,
      mediaSequence: seq ? Number(seq[1]) : -1,
      segments: text.split('\n').filter((l) => l.endsWith('.ts')),
    },
  };
}

describe('HLS egress (real ffmpeg encoder and HLS muxer, served over HTTP)', () => {
  const live = useLiveServer({ EGRESS_HLS_RETENTION_S: '3' });

  it('serves a sliding live playlist of 2 s segments holding the room, public but unguessable, gone after stop + retention', async () => {
    await live.join('hls-room', 'a', { colour: RED, toneHz: 440 });
    const res = await api<EgressView>(live.server, '/api/rooms/hls-room/egress', {
      method: 'POST',
      body: { type: 'hls', profile: 'low' },
    });
    expect(res.status).toBe(201);
    const { id, playlistUrl } = res.body;
    expect(playlistUrl).toMatch(/^\/hls\/[A-Za-z0-9_-]{32}\/index\.m3u8$/);
    const url = playlistUrl as string;
    const base = live.server.url;
    await waitForEgress(live.server, id, ['active']);

    // Playable without the admin key: a plain fetch, CDN-friendly cache headers.
    let last = await playlist(base, url);
    for (let i = 0; i < 60 && last.pl.segments.length < 3; i++) {
      await sleep(500);
      last = await playlist(base, url);
    }
    expect(last.status).toBe(200);
    expect(last.cache).toBe('public, max-age=1, must-revalidate');
    expect(last.pl.text).toContain('#EXT-X-TARGETDURATION:2');
    expect(last.pl.text).toContain('#EXT-X-INDEPENDENT-SEGMENTS');
    expect(last.pl.text).not.toContain('#EXT-X-ENDLIST');
    const segUrl = url.replace('index.m3u8', last.pl.segments[last.pl.segments.length - 1]);
    const seg = await fetch(base + segUrl);
    expect(seg.status).toBe(200);
    expect(seg.headers.get('content-type')).toBe('video/mp2t');
    expect(seg.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const file = path.join(tempDir('hls'), 'seg.ts');
    fs.writeFileSync(file, Buffer.from(await seg.arrayBuffer()));
    const p = await probeStreams(file);
    expect(p.codecs).toEqual(['aac', 'h264']);
    expect(frameContainsColour(await lastFrame(file, p.width, p.height), rgbToYuv(RED))).toBe(true);
    const pcm = await allAudio(file);
    expect(goertzel(pcm.subarray(pcm.length - 48000), 48000, 440)).toBeGreaterThan(0.2);

    // Without the unguessable part, nothing.
    const token = url.split('/')[2];
    expect((await fetch(`${base}/hls/${'A'.repeat(32)}/index.m3u8`)).status).toBe(404);
    expect((await fetch(`${base}/hls/${token.slice(0, 31)}/index.m3u8`)).status).toBe(404);
    expect((await fetch(`${base}/hls/${token}/../../secrets.json`)).status).toBe(404);
    expect((await fetch(`${base}/hls/${token}/index.m3u8.tmp`)).status).toBe(404);

    // The window slides: six segments at most, the oldest deleted from disk and from HTTP.
    const firstSeg = last.pl.segments[0];
    for (let i = 0; i < 80 && last.pl.mediaSequence < 2; i++) {
      await sleep(500);
      last = await playlist(base, url);
    }
    expect(last.pl.mediaSequence).toBeGreaterThanOrEqual(2);
    expect(last.pl.segments.length).toBe(6);
    expect(last.pl.segments).not.toContain(firstSeg);
    expect((await fetch(base + url.replace('index.m3u8', firstSeg))).status).toBe(404);

    // Stopped: the playlist ends and stays for EGRESS_HLS_RETENTION_S, then 404.
    const stopped = await api<EgressView>(live.server, `/api/egress/${id}`, { method: 'DELETE' });
    expect(stopped.body.state).toBe('stopped');
    const ended = await playlist(base, url);
    expect(ended.status).toBe(200);
    expect(ended.pl.text).toContain('#EXT-X-ENDLIST');
    await sleep(4000);
    expect((await playlist(base, url)).status).toBe(404);
    expect((await api<EgressView>(live.server, `/api/egress/${id}`)).body.state).toBe('stopped');
  });

  it('refuses bad requests with a 4xx and reports an unreachable target as failed, the room unaffected', async () => {
    const post = (roomId: string, body: unknown) =>
      api<EgressView & { error: string; message: string }>(live.server, `/api/rooms/${roomId}/egress`, {
        method: 'POST',
        body,
      });
    expect((await post('no-such-room', { type: 'hls' })).status).toBe(404);
    await api(live.server, '/api/rooms', { method: 'POST', body: { id: 'empty-room' } });
    const empty = await post('empty-room', { type: 'hls' });
    expect(empty.status).toBe(409);
    expect(empty.body.message).toMatch(/no live session/);

    const a = await live.join('bad-room', 'a', { colour: RED, toneHz: 440 });
    expect((await post('bad-room', { type: 'srt', url: 'srt://x' })).status).toBe(400);
    expect((await post('bad-room', { type: 'rtmp' })).status).toBe(400);
    expect((await post('bad-room', { type: 'hls', url: 'rtmp://x/y' })).status).toBe(400);
    expect((await post('bad-room', { type: 'rtmp', url: 'http://example.com/live' })).status).toBe(422);
    expect((await post('bad-room', { type: 'rtmp', url: 'not a url' })).status).toBe(422);
    expect((await post('bad-room', { type: 'hls', profile: 'ultra' })).status).toBe(422);
    expect((await api(live.server, '/api/egress/nope')).status).toBe(422);
    expect((await api(live.server, '/api/egress/eg_AAAAAAAAAAAA')).status).toBe(404);
    expect((await fetch(`${live.server.url}/api/egress`)).status).toBe(401);
    const doc = (await (await fetch(`${live.server.url}/api/docs-json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/rooms/{roomId}/egress',
        '/api/egress',
        '/api/egress/{id}',
        '/hls/{token}/{file}',
      ]),
    );

    // Nothing listens there: the egress fails with ffmpeg's reason; the room goes on.
    const refused = await post('bad-room', {
      type: 'rtmp',
      url: 'rtmp://127.0.0.1:9/live/key',
      profile: 'low',
    });
    expect(refused.status).toBe(201);
    const failed = await waitForEgress(live.server, refused.body.id, ['failed']);
    expect(failed.error).toMatch(/Connection refused/);
    const unknown = await post('bad-room', { type: 'rtmp', url: 'rtmp://no-such-host.invalid/live/key' });
    expect(unknown.status).toBe(201);
    expect((await waitForEgress(live.server, unknown.body.id, ['failed'])).error).toMatch(/ffmpeg exited/);

    const framesBefore = a.framesReceived;
    await waitFor(() => a.framesReceived > framesBefore + 10, 10000, 'the room still streams');
    const stats = await api<{ participants: unknown[] }>(live.server, '/api/rooms/bad-room');
    expect(stats.status).toBe(200);

    // The room ends (its last participant kicked): its egress stops with it.
    const hls = await post('bad-room', { type: 'hls', profile: 'low' });
    await waitForEgress(live.server, hls.body.id, ['active']);
    const kicked = await api(live.server, `/api/rooms/bad-room/participants/${a.participantId}`, {
      method: 'DELETE',
    });
    expect(kicked.status).toBeLessThan(300);
    expect((await waitForEgress(live.server, hls.body.id, ['stopped', 'failed'])).state).toBe('stopped');
  });

  it('composes an egress in a layout of its own: pinned on B while the room stays in grid', async () => {
    const a = await live.join('layout-room', 'a', { colour: RED, toneHz: 440 });
    const b = await live.join('layout-room', 'b', { colour: BLUE, toneHz: 880 });
    await waitFor(
      () => !!a.latestFrame && frameContainsColour(a.latestFrame, rgbToYuv(BLUE)),
      30000,
      'media',
    );
    const patched = await api(live.server, '/api/rooms/layout-room', {
      method: 'PATCH',
      body: { pinnedParticipantId: b.participantId },
    });
    expect(patched.status).toBe(200);
    const res = await api<EgressView>(live.server, '/api/rooms/layout-room/egress', {
      method: 'POST',
      body: { type: 'hls', profile: 'low', layout: 'pinned' },
    });
    expect(res.status).toBe(201);
    expect(res.body.layout).toBe('pinned');
    await waitForEgress(live.server, res.body.id, ['active']);
    let pl = await playlist(live.server.url, res.body.playlistUrl as string);
    for (let i = 0; i < 40 && pl.pl.segments.length < 2; i++) {
      await sleep(500);
      pl = await playlist(live.server.url, res.body.playlistUrl as string);
    }
    const seg = await fetch(
      live.server.url +
        (res.body.playlistUrl as string).replace('index.m3u8', pl.pl.segments[pl.pl.segments.length - 1]),
    );
    const file = path.join(tempDir('hls-layout'), 'seg.ts');
    fs.writeFileSync(file, Buffer.from(await seg.arrayBuffer()));
    const frame = await lastFrame(file, 320, 180);
    // Pinned: B fills the top three quarters (its centre is B's), A is in the strip below.
    const centre = meanYuvInRect(frame, 150, 50, 20, 40);
    expect(yuvDistance(centre, rgbToYuv(BLUE))).toBeLessThan(30);
    expect(frameContainsColour(frame, rgbToYuv(RED))).toBe(true);
    // The room itself is still in grid: A's picture shows both side by side, neither one large.
    const roomCentreLeft = meanYuvInRect(a.latestFrame!, 100, 150, 40, 40);
    expect(yuvDistance(roomCentreLeft, rgbToYuv(BLUE))).toBeGreaterThan(30);
    await api(live.server, `/api/egress/${res.body.id}`, { method: 'DELETE' });
  });
});
