import { CodecError } from '../../../workers/media/engine/codec/codec-error';
import {
  NAL_IDR,
  NAL_PPS,
  NAL_SPS,
  isVp8Keyframe,
  nalTypes,
  spsProfile,
} from '../../../workers/media/engine/codec/h264-nal';
import { VideoEncoder } from '../../../workers/media/engine/codec/video-encoder';
import type { I420Frame } from '../../../workers/media/engine/video/i420';
import {
  BusySource,
  DecoderHarness,
  EncoderHarness,
  describeCodecs,
  ffmpegDecode,
  ffprobe,
  tempFile,
  tileError,
  tileFrame,
  writeStream,
} from './codec-fixtures';

const CODECS = ['vp8', 'h264'] as const;

/** Which rotation of the quadrant colours frame i shows: changes every 5 frames. */
const shiftAt = (i: number): number => Math.floor(i / 5) % 4;

describeCodecs('VideoEncoder', () => {
  describe.each(CODECS)('%s', (codec) => {
    it('encodes known colours that its own decoder and the ffmpeg CLI both read back', async () => {
      const w = 320;
      const h = 180;
      const frames = [0, 1, 2, 3].map((s) => tileFrame(w, h, s));
      const enc = new EncoderHarness({ codec, width: w, height: h, fps: 15, bitrateKbps: 300 });
      await enc.encodeAll(20, (i) => frames[shiftAt(i)]);
      enc.encoder.close();
      expect(enc.packets.map((p) => p.pts)).toEqual([...Array(20).keys()]);

      const dec = new DecoderHarness({ codec });
      await dec.decodeAll(enc.packets);
      dec.decoder.close();
      const decoded = dec.frames();
      expect(decoded).toHaveLength(20);
      for (const { pts, frame } of decoded) {
        expect([frame.width, frame.height]).toEqual([w, h]);
        expect(tileError(frame, shiftAt(pts))).toBeLessThanOrEqual(12);
      }

      const file = tempFile(codec === 'h264' ? 'tiles.h264' : 'tiles.ivf');
      writeStream(file, codec, enc.packets, w, h, 15);
      const viaFfmpeg = ffmpegDecode(file, codec, w, h);
      expect(viaFfmpeg).toHaveLength(20);
      viaFfmpeg.forEach((frame, i) => expect(tileError(frame, shiftAt(i))).toBeLessThanOrEqual(12));
    });

    it('makes the next frame a keyframe on request, and ffprobe agrees', async () => {
      const w = 320;
      const h = 180;
      const busy = new BusySource(w, h);
      const enc = new EncoderHarness({ codec, width: w, height: h, fps: 15, bitrateKbps: 200 });
      await enc.encodeAll(
        30,
        (i) => busy.next(i),
        (i) => i === 12 && enc.encoder.requestKeyframe(),
      );
      enc.encoder.close();
      const keys = enc.packets.map((p) => p.keyframe);
      expect(keys.flatMap((k, i) => (k ? [i] : []))).toEqual([0, 12]);
      expect(enc.encoder.stats.keyframes).toBe(2);
      const key = enc.packets[12].data;
      if (codec === 'h264') {
        // SPS and PPS come before the IDR slice, so a receiver can start from this unit alone.
        const types = nalTypes(key);
        expect(types).toContain(NAL_IDR);
        expect(types.indexOf(NAL_SPS)).toBeLessThan(types.indexOf(NAL_PPS));
        expect(types.indexOf(NAL_PPS)).toBeLessThan(types.indexOf(NAL_IDR));
        expect(nalTypes(enc.packets[13].data)).not.toContain(NAL_IDR);
      } else {
        expect(isVp8Keyframe(key)).toBe(true);
        expect(isVp8Keyframe(enc.packets[13].data)).toBe(false);
      }
      const file = tempFile(codec === 'h264' ? 'kf.h264' : 'kf.ivf');
      writeStream(file, codec, enc.packets, w, h, 15);
      const probe = ffprobe(file, codec);
      expect(probe.keys).toHaveLength(30);
      expect(probe.keys.flatMap((k, i) => (k ? [i] : []))).toEqual([0, 12]);
      expect(probe.types[12]).toBe('I');
    });

    it('changes its output rate at run time with setBitrate', async () => {
      const w = 640;
      const h = 360;
      const fps = 15;
      const busy = new BusySource(w, h);
      const enc = new EncoderHarness({ codec, width: w, height: h, fps, bitrateKbps: 550 });
      await enc.encodeAll(
        90,
        (i) => busy.next(i),
        (i) => i === 45 && enc.encoder.setBitrate(180),
      );
      enc.encoder.close();
      // Two seconds at each rate, leaving out the first second of each (keyframe, settling).
      const kbps = (from: number, to: number): number =>
        (enc.packets.slice(from, to).reduce((n, p) => n + p.data.length, 0) * 8) / 1000 / ((to - from) / fps);
      const before = kbps(15, 45);
      const after = kbps(60, 90);
      expect(before).toBeGreaterThan(550 * 0.6);
      expect(before).toBeLessThan(550 * 1.4);
      expect(after).toBeLessThan(before * 0.6);
      expect(enc.packets.slice(46).some((p) => p.keyframe)).toBe(false);
    });

    it('copies the input frame: the caller may overwrite its buffer right after encode()', async () => {
      const w = 320;
      const h = 180;
      const canvas: I420Frame = tileFrame(w, h, 0);
      const scribble = tileFrame(w, h, 2).data;
      const enc = new EncoderHarness({ codec, width: w, height: h, fps: 15, bitrateKbps: 300 });
      for (let i = 0; i < 3; i++) {
        expect(enc.encoder.encode(canvas.data, i)).toBe(true);
        canvas.data.set(scribble);
        await enc.encoder.idle();
        canvas.data.set(tileFrame(w, h, 0).data);
      }
      enc.encoder.close();
      const dec = new DecoderHarness({ codec });
      await dec.decodeAll(enc.packets);
      dec.decoder.close();
      expect(dec.frames()).toHaveLength(3);
      for (const { frame } of dec.frames()) expect(tileError(frame, 0)).toBeLessThanOrEqual(12);
    });

    it('holds one frame in flight: a frame offered while busy is dropped and counted, outputs keep order', async () => {
      const w = 320;
      const h = 180;
      const frame = tileFrame(w, h, 1);
      const seen: number[] = [];
      let next = 1;
      let finished: () => void = () => undefined;
      const done = new Promise<void>((resolve) => (finished = resolve));
      const enc = VideoEncoder.create({ codec, width: w, height: h, fps: 15, bitrateKbps: 300 }, (f) => {
        seen.push(f.pts);
        // Offer two frames per output: the first is taken, the second finds the encoder busy.
        if (next < 40) {
          expect(enc?.encode(frame.data, next)).toBe(true);
          expect(enc?.encode(frame.data, -next)).toBe(false);
          next++;
        } else {
          finished();
        }
      });
      if (enc === null) throw new Error('codec addon unavailable');
      expect(enc.encode(frame.data, 0)).toBe(true);
      expect(enc.busy).toBe(true);
      expect(enc.encode(frame.data, -1000)).toBe(false);
      await done;
      await enc.idle();
      enc.close();
      expect(seen).toEqual([...Array(40).keys()]);
      expect(enc.stats.submitted).toBe(40);
      expect(enc.stats.encoded).toBe(40);
      // 39 from the callbacks, one before the first output.
      expect(enc.stats.droppedBusy).toBe(40);
      expect(enc.encode(frame.data, 99)).toBe(false);
    });
  });

  it('writes a constrained-baseline SPS whose level follows the resolution (3.1 at most up to 720p30)', async () => {
    const cases = [
      { width: 320, height: 180, fps: 15, bitrateKbps: 120, level: 12 },
      { width: 640, height: 360, fps: 15, bitrateKbps: 550, level: 22 },
      { width: 1280, height: 720, fps: 30, bitrateKbps: 1700, level: 31 },
    ];
    for (const c of cases) {
      const enc = new EncoderHarness({ codec: 'h264', ...c });
      await enc.encodeAll(2, () => tileFrame(c.width, c.height, 0));
      expect(enc.encoder.h264Level).toBe(c.level);
      enc.encoder.close();
      const sps = spsProfile(enc.packets[0].data);
      expect(sps).not.toBeNull();
      expect(sps?.profileIdc).toBe(66);
      expect(sps?.constrainedBaseline).toBe(true);
      expect(sps?.levelIdc).toBe(c.level);
      const file = tempFile('sps.h264');
      writeStream(file, 'h264', enc.packets, c.width, c.height, c.fps);
      const probe = ffprobe(file, 'h264');
      expect(probe.stream.profile).toBe('Constrained Baseline');
      expect(Number(probe.stream.level)).toBe(c.level);
    }
  });

  it('puts SPS and PPS before the periodic keyframes as well', async () => {
    const enc = new EncoderHarness({
      codec: 'h264',
      width: 320,
      height: 180,
      fps: 15,
      bitrateKbps: 200,
      keyframeIntervalFrames: 10,
    });
    const busy = new BusySource(320, 180);
    await enc.encodeAll(25, (i) => busy.next(i));
    enc.encoder.close();
    const keyIdx = enc.packets.flatMap((p, i) => (p.keyframe ? [i] : []));
    expect(keyIdx).toEqual([0, 10, 20]);
    for (const i of keyIdx) expect(nalTypes(enc.packets[i].data).slice(0, 2)).toEqual([NAL_SPS, NAL_PPS]);
  });

  it('caps NAL units near sliceMaxBytes when asked', async () => {
    const enc = new EncoderHarness({
      codec: 'h264',
      width: 640,
      height: 360,
      fps: 15,
      bitrateKbps: 800,
      sliceMaxBytes: 1100,
    });
    const busy = new BusySource(640, 360);
    await enc.encodeAll(5, (i) => busy.next(i));
    enc.encoder.close();
    const { splitAnnexB } = await import('../../../workers/media/engine/codec/h264-nal');
    const slices = enc.packets.flatMap((p) =>
      splitAnnexB(p.data).filter((u) => u.type === 1 || u.type === 5),
    );
    expect(slices.length).toBeGreaterThan(5);
    for (const s of slices) expect(s.length).toBeLessThanOrEqual(1100);
  });

  it('rejects bad options with a CodecError', () => {
    const sink = (): void => undefined;
    expect(() =>
      VideoEncoder.create({ codec: 'vp8', width: 321, height: 180, fps: 15, bitrateKbps: 100 }, sink),
    ).toThrow(CodecError);
    expect(() =>
      VideoEncoder.create({ codec: 'h264', width: 320, height: 180, fps: 15, bitrateKbps: 1 }, sink),
    ).toThrow(/out of range/);
    const enc = VideoEncoder.create(
      { codec: 'vp8', width: 320, height: 180, fps: 15, bitrateKbps: 100 },
      sink,
    );
    expect(() => enc?.encode(new Uint8Array(100), 0)).toThrow(CodecError);
    enc?.close();
  });
});
