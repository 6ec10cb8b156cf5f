import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Logger } from '../../../workers/kernel/logger';
import { RtmpPublishServer, type PublishSink } from '../../../workers/kernel/rtmp/rtmp-server';
import { frameContainsColour, goertzel, rgbToYuv } from '../../helpers/media-analysis';
import { tempDir } from '../../helpers/server';
import { RED } from '../../helpers/live-room';
import { allAudio, lastFrame, probeStreams } from '../egress/egress-fixtures';

/** ffmpeg as the publisher (what OBS does): a red picture and a 440 Hz tone for `seconds`. */
function push(url: string, seconds: number): Promise<{ code: number | null; stderr: string }> {
  const p = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-re',
      '-f',
      'lavfi',
      '-i',
      `color=c=0xDC1E1E:size=320x180:rate=15`,
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=48000',
      '-t',
      String(seconds),
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-g',
      '15',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-b:a',
      '96k',
      '-f',
      'flv',
      url,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => p.once('close', (code) => resolve({ code, stderr })));
}

describe('RtmpPublishServer (real ffmpeg publishing to it)', () => {
  const log = new Logger('rtmp-test');
  const dir = tempDir('rtmp-pub');
  const published: { app: string; key: string; ended: string | null; file: string }[] = [];
  let server: RtmpPublishServer;
  let port = 0;

  beforeAll(async () => {
    server = new RtmpPublishServer({
      logger: log,
      onPublish: (app, key) => {
        if (key !== 'good-key') return { refuse: 'unknown stream key' };
        const entry = {
          app,
          key,
          ended: null as string | null,
          file: path.join(dir, `${published.length}.flv`),
        };
        published.push(entry);
        const out = fs.createWriteStream(entry.file);
        const sink: PublishSink = {
          write: (b) => out.write(b),
          end: (reason) => {
            entry.ended = reason;
            out.end();
          },
        };
        return { sink };
      },
    });
    port = await server.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a publish with the right key and hands out its media as FLV: H.264 + AAC, colour and tone intact', async () => {
    const r = await push(`rtmp://127.0.0.1:${port}/live/good-key`, 3);
    expect(r.code).toBe(0);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ app: 'live', key: 'good-key' });
    for (let i = 0; i < 50 && published[0].ended === null; i++)
      await new Promise((res) => setTimeout(res, 100));
    expect(published[0].ended).not.toBeNull();
    await new Promise((res) => setTimeout(res, 200));
    const file = published[0].file;
    const p = await probeStreams(file);
    expect(p.codecs).toEqual(['aac', 'h264']);
    expect([p.width, p.height]).toEqual([320, 180]);
    expect(frameContainsColour(await lastFrame(file, p.width, p.height), rgbToYuv(RED))).toBe(true);
    const pcm = await allAudio(file);
    expect(pcm.length).toBeGreaterThan(48000 * 2.5);
    expect(goertzel(pcm.subarray(48000, 96000), 48000, 440)).toBeGreaterThan(0.2);
  });

  it('refuses a wrong stream key before any media is taken', async () => {
    const before = published.length;
    const r = await push(`rtmp://127.0.0.1:${port}/live/wrong-key`, 2);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown stream key|BadName|error/i);
    expect(published).toHaveLength(before);
  });

  it('closes a connection that speaks something else, and keeps serving', async () => {
    const net = await import('node:net');
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((res) => sock.once('connect', () => res()));
    sock.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'.padEnd(1600, 'x')));
    await new Promise<void>((res) => sock.once('close', () => res()));
    const r = await push(`rtmp://127.0.0.1:${port}/live/good-key`, 1);
    expect(r.code).toBe(0);
  });
});
