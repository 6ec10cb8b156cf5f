import { spawnSync } from 'node:child_process';
import { CodecError } from '../../../workers/media/engine/codec/codec-error';
import { splitAnnexB } from '../../../workers/media/engine/codec/h264-nal';
import { VideoDecoder } from '../../../workers/media/engine/codec/video-decoder';
import type { KeyframeNeededReason } from '../../../workers/media/engine/codec/video-decoder';
import {
  DecoderHarness,
  EncoderHarness,
  Packet,
  describeCodecs,
  tileError,
  tileFrame,
} from './codec-fixtures';

const W = 320;
const H = 180;
const FRAMES = [0, 1, 2, 3].map((s) => tileFrame(W, H, s));
/** The quadrant colours rotate every 4 frames, so P-frames really depend on their references. */
const shiftAt = (i: number): number => Math.floor(i / 4) % 4;

/**
 * Sender and receiver in lock step, as over a real link: frame i is encoded, then (unless it is
 * in `lose`) decoded; a keyframe request from the decoder reaches the encoder before frame i+1.
 */
async function link(codec: 'vp8' | 'h264', count: number, lose: ReadonlySet<number>, tellLoss = false) {
  const enc = new EncoderHarness({ codec, width: W, height: H, fps: 15, bitrateKbps: 300 });
  const requests: KeyframeNeededReason[] = [];
  const dec = new DecoderHarness({ codec }, (reason) => {
    requests.push(reason);
    enc.encoder.requestKeyframe();
  });
  let lostSinceLast = false;
  for (let i = 0; i < count; i++) {
    await enc.encodeAll(1, () => FRAMES[shiftAt(i)]);
    const p = enc.packets[i];
    if (lose.has(i)) {
      lostSinceLast = true;
      continue;
    }
    dec.decoder.decode(p.data, p.pts, tellLoss && lostSinceLast);
    lostSinceLast = false;
    await dec.decoder.idle();
  }
  enc.encoder.close();
  dec.decoder.close();
  return { enc, dec, requests };
}

function framePts(dec: DecoderHarness): number[] {
  return dec.frames().map((f) => f.pts);
}

function needs(dec: DecoderHarness): { pts: number; reason: KeyframeNeededReason }[] {
  return dec.events.flatMap((e) => (e.kind === 'need' ? [{ pts: e.pts, reason: e.reason }] : []));
}

describeCodecs('VideoDecoder', () => {
  it('H.264: sees a lost reference in frame_num, asks for a keyframe, shows nothing broken, recovers at the IDR', async () => {
    const { enc, dec, requests } = await link('h264', 30, new Set([10]));
    // Frame 11 references the lost 10: reported, not shown. The request makes 12 an IDR.
    expect(needs(dec)).toEqual([{ pts: 11, reason: 'reference-lost' }]);
    expect(requests).toEqual(['reference-lost']);
    expect(enc.packets[12].keyframe).toBe(true);
    expect(framePts(dec)).toEqual([...Array(30).keys()].filter((i) => i !== 10 && i !== 11));
    for (const { pts, frame } of dec.frames()) expect(tileError(frame, shiftAt(pts))).toBeLessThanOrEqual(12);
    expect(dec.decoder.needsKeyframe).toBe(false);
    expect(dec.decoder.stats.undecodable).toBe(1);
  });

  it('H.264: keeps asking on every unit until the IDR arrives', async () => {
    const enc = new EncoderHarness({ codec: 'h264', width: W, height: H, fps: 15, bitrateKbps: 300 });
    await enc.encodeAll(
      20,
      (i) => FRAMES[shiftAt(i)],
      (i) => i === 15 && enc.encoder.requestKeyframe(),
    );
    enc.encoder.close();
    const dec = new DecoderHarness({ codec: 'h264' });
    await dec.decodeAll(enc.packets, new Set([6]));
    dec.decoder.close();
    expect(needs(dec).map((n) => n.pts)).toEqual([7, 8, 9, 10, 11, 12, 13, 14]);
    expect(framePts(dec)).toEqual([0, 1, 2, 3, 4, 5, 15, 16, 17, 18, 19]);
  });

  it('H.264: starts in need of a keyframe and shows nothing before the first IDR', async () => {
    const enc = new EncoderHarness({ codec: 'h264', width: W, height: H, fps: 15, bitrateKbps: 300 });
    await enc.encodeAll(
      12,
      (i) => FRAMES[shiftAt(i)],
      (i) => i === 8 && enc.encoder.requestKeyframe(),
    );
    enc.encoder.close();
    const dec = new DecoderHarness({ codec: 'h264' });
    expect(dec.decoder.needsKeyframe).toBe(true);
    await dec.decodeAll(enc.packets.slice(3));
    dec.decoder.close();
    expect(needs(dec)).toEqual([3, 4, 5, 6, 7].map((pts) => ({ pts, reason: 'no-keyframe-yet' })));
    expect(framePts(dec)).toEqual([8, 9, 10, 11]);
  });

  it.each(['vp8', 'h264'] as const)(
    '%s: a loss the caller reports (lostBefore) also waits for a keyframe',
    async (codec) => {
      const { dec, requests } = await link(codec, 20, new Set([5, 6]), true);
      expect(requests).toEqual(['reference-lost']);
      expect(needs(dec)).toEqual([{ pts: 7, reason: 'reference-lost' }]);
      expect(framePts(dec)).toEqual([...Array(20).keys()].filter((i) => i < 5 || i > 7));
      for (const { pts, frame } of dec.frames())
        expect(tileError(frame, shiftAt(pts))).toBeLessThanOrEqual(12);
    },
  );

  it('drops a unit that finds the queue full, asks for a keyframe, and treats the next unit as following a loss', async () => {
    const enc = new EncoderHarness({ codec: 'vp8', width: W, height: H, fps: 15, bitrateKbps: 300 });
    await enc.encodeAll(
      8,
      (i) => FRAMES[shiftAt(i)],
      (i) => i === 6 && enc.encoder.requestKeyframe(),
    );
    enc.encoder.close();
    const dec = new DecoderHarness({ codec: 'vp8', queueSize: 1 });
    const [p0, p1, p2, p3, p4, p5, p6, p7] = enc.packets;
    expect(dec.decoder.decode(p0.data, p0.pts)).toBe(true);
    expect(dec.decoder.decode(p1.data, p1.pts)).toBe(false);
    expect(dec.decoder.decode(p2.data, p2.pts)).toBe(false);
    await dec.decoder.idle();
    for (const p of [p3, p4, p5, p6, p7]) {
      dec.decoder.decode(p.data, p.pts);
      await dec.decoder.idle();
    }
    dec.decoder.close();
    expect(needs(dec)).toEqual([
      { pts: 1, reason: 'queue-overflow' },
      { pts: 2, reason: 'queue-overflow' },
      { pts: 3, reason: 'reference-lost' },
      { pts: 4, reason: 'reference-lost' },
      { pts: 5, reason: 'reference-lost' },
    ]);
    expect(framePts(dec)).toEqual([0, 6, 7]);
    expect(dec.decoder.stats.droppedQueueFull).toBe(2);
  });

  it('survives garbage: corrupt units are reported, never shown, and a keyframe still recovers', async () => {
    const enc = new EncoderHarness({ codec: 'h264', width: W, height: H, fps: 15, bitrateKbps: 300 });
    await enc.encodeAll(2, (i) => FRAMES[i]);
    enc.encoder.close();
    const dec = new DecoderHarness({ codec: 'h264' });
    let seed = 7;
    const noise = (n: number): Buffer =>
      Buffer.from(Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24));
    const garbage: Packet[] = [
      { data: Buffer.concat([Buffer.from([0, 0, 0, 1, 0x65]), noise(3000)]), keyframe: false, pts: 100 },
      { data: Buffer.concat([Buffer.from([0, 0, 0, 1, 0x41]), noise(500)]), keyframe: false, pts: 101 },
      { data: noise(200), keyframe: false, pts: 102 },
    ];
    await dec.decodeAll([...garbage, ...enc.packets]);
    dec.decoder.close();
    expect(framePts(dec)).toEqual([0, 1]);
    for (const { pts, frame } of dec.frames()) expect(tileError(frame, pts)).toBeLessThanOrEqual(12);
    expect(dec.events.filter((e) => e.kind === 'need').length).toBeGreaterThanOrEqual(2);
  });

  it('decodes H.264 from another encoder (ffmpeg libx264, High profile) with the right colours', async () => {
    const raw = Buffer.concat(Array.from({ length: 12 }, (_, i) => Buffer.from(FRAMES[shiftAt(i)].data)));
    const r = spawnSync(
      'ffmpeg',
      [
        '-v',
        'error',
        '-f',
        'rawvideo',
        '-pix_fmt',
        'yuv420p',
        '-s',
        `${W}x${H}`,
        '-r',
        '15',
        '-i',
        'pipe:0',
        '-c:v',
        'libx264',
        '-profile:v',
        'high',
        '-bf',
        '0',
        '-x264-params',
        'aud=1',
        '-f',
        'h264',
        'pipe:1',
      ],
      { input: raw, maxBuffer: 1 << 26 },
    );
    expect(r.status).toBe(0);
    // Access units start at each access unit delimiter (NAL type 9).
    const starts = splitAnnexB(r.stdout)
      .filter((u) => u.type === 9)
      .map((u) => (u.offset >= 4 && r.stdout[u.offset - 4] === 0 ? u.offset - 4 : u.offset - 3));
    const units: Packet[] = starts.map((s, i) => ({
      data: r.stdout.subarray(s, i + 1 < starts.length ? starts[i + 1] : r.stdout.length),
      keyframe: false,
      pts: i,
    }));
    expect(units).toHaveLength(12);
    const dec = new DecoderHarness({ codec: 'h264' });
    await dec.decodeAll(units);
    dec.decoder.close();
    expect(framePts(dec)).toEqual([...Array(12).keys()]);
    for (const { pts, frame } of dec.frames()) expect(tileError(frame, shiftAt(pts))).toBeLessThanOrEqual(12);
  });

  it('rejects bad options with a CodecError and ignores units after close()', () => {
    const sink = { onFrame: (): void => undefined, onKeyframeNeeded: (): void => undefined };
    expect(() => VideoDecoder.create({ codec: 'h264', queueSize: 0 }, sink)).toThrow(CodecError);
    const dec = VideoDecoder.create({ codec: 'vp8' }, sink);
    dec?.close();
    expect(dec?.decode(new Uint8Array(10), 0)).toBe(false);
  });
});
