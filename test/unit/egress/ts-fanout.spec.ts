import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runProcess } from '../../../workers/kernel/process-control';
import { isVideoKeyframeStart, TS_PACKET, TsFanout } from '../../../workers/media/egress/ts-fanout';

/** 6 s of H.264 (keyframe every 1 s) + AAC in MPEG-TS, as the egress encoder writes it. */
async function encodedStream(): Promise<Buffer> {
  const { stdout } = await runProcess(
    'ffmpeg',
    [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=160x90:rate=15',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=48000',
      '-t',
      '6',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-g',
      '15',
      '-keyint_min',
      '15',
      '-sc_threshold',
      '0',
      '-c:a',
      'aac',
      '-b:a',
      '64k',
      '-f',
      'mpegts',
      'pipe:1',
    ],
    { timeoutMs: 30000 },
  );
  return stdout;
}

/** Feeds the stream in chunks of awkward sizes (pipes cut anywhere). */
function feed(fanout: TsFanout, data: Buffer, from: number, to: number): void {
  const sizes = [1000, 37, 4096, 188, 65536, 3];
  let i = from;
  let k = 0;
  while (i < to) {
    const n = Math.min(sizes[k++ % sizes.length], to - i);
    fanout.push(data.subarray(i, i + n));
    i += n;
  }
}

describe('TsFanout', () => {
  let stream: Buffer;
  beforeAll(async () => {
    stream = await encodedStream();
  });

  it('passes every whole packet to a sink attached from the start, after its first keyframe', () => {
    const fanout = new TsFanout();
    const got: Buffer[] = [];
    fanout.attach('a', { write: (b) => (got.push(Buffer.from(b)), true) });
    feed(fanout, stream, 0, stream.length);
    const out = Buffer.concat(got);
    expect(out.length % TS_PACKET).toBe(0);
    expect(out.length).toBeGreaterThan(stream.length * 0.9);
    expect(fanout.packets).toBe(Math.floor(stream.length / TS_PACKET));
  });

  it('starts a late sink with PAT and PMT, then a video keyframe, and what it gets decodes without errors', async () => {
    const fanout = new TsFanout();
    const got: Buffer[] = [];
    feed(fanout, stream, 0, Math.floor(stream.length / 2) + 77);
    fanout.attach('late', { write: (b) => (got.push(Buffer.from(b)), true) });
    feed(fanout, stream, Math.floor(stream.length / 2) + 77, stream.length);
    const out = Buffer.concat(got);
    expect(out[0]).toBe(0x47);
    const pid = (off: number) => ((out[off + 1] & 0x1f) << 8) | out[off + 2];
    expect(pid(0)).toBe(0); // PAT
    expect(pid(TS_PACKET)).toBe(0x1000); // ffmpeg's PMT
    expect(isVideoKeyframeStart(out, 2 * TS_PACKET)).toBe(true);

    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-fanout-')), 'late.ts');
    fs.writeFileSync(file, out);
    const r = await runProcess('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], {
      timeoutMs: 30000,
    });
    expect(r.stderr).toBe('');
    const probe = await runProcess(
      'ffprobe',
      [
        '-v',
        'error',
        '-count_frames',
        '-select_streams',
        'v',
        '-show_entries',
        'stream=nb_read_frames',
        '-of',
        'csv=p=0',
        file,
      ],
      { timeoutMs: 30000 },
    );
    // About half of the 90 frames, starting on a whole second (a keyframe).
    const frames = Number(probe.stdout.toString().trim().split('\n')[0]);
    expect(frames % 15).toBe(0);
    expect(frames).toBeGreaterThanOrEqual(30);
    expect(frames).toBeLessThanOrEqual(60);
  });

  it('resynchronises a sink at the next keyframe after back-pressure, and a detached sink gets nothing', () => {
    const fanout = new TsFanout();
    const got: Buffer[] = [];
    let other = 0;
    fanout.attach('a', { write: (b) => (got.push(Buffer.from(b)), true) });
    fanout.attach('b', { write: (b) => ((other += b.length), true) });
    feed(fanout, stream, 0, 20000);
    fanout.detach('b');
    const before = other;
    fanout.resync('a');
    got.length = 0;
    feed(fanout, stream, 20000, stream.length);
    expect(other).toBe(before);
    const out = Buffer.concat(got);
    expect(isVideoKeyframeStart(out, 2 * TS_PACKET)).toBe(true);
  });
});
