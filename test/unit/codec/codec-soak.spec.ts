import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { OPUS_MAX_PACKET_BYTES, OpusDecoder, OpusEncoder } from '../../../workers/media/engine/codec/opus';
import { VideoDecoder } from '../../../workers/media/engine/codec/video-decoder';
import { VideoEncoder } from '../../../workers/media/engine/codec/video-encoder';
import { BusySource, describeCodecs } from './codec-fixtures';

const FRAMES = 2500;
const MB = 1024 * 1024;

// A full collection before each reading, so garbage not yet collected is not taken for a leak.
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;

function memory(): NodeJS.MemoryUsage {
  collect();
  return process.memoryUsage();
}

/** Threads of this process named by the codec addon (pthread names, /proc/self/task/N/comm). */
function codecThreads(): number {
  return fs.readdirSync('/proc/self/task').filter((tid) => {
    try {
      return /^Video(En|De)coder$/.test(fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());
    } catch {
      return false; // the thread ended while listing
    }
  }).length;
}

/**
 * The codec threads once `expected` is reached or 2 s have passed: close() joins them, but a
 * joined thread can still be listed in /proc for a moment (the kernel wakes the joiner before
 * it has reaped the thread), seen once on a loaded machine.
 */
async function codecThreadsSettled(expected: number): Promise<number> {
  const deadline = Date.now() + 2000;
  let n = codecThreads();
  while (n !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    n = codecThreads();
  }
  return n;
}

/**
 * Memory over many frames: after a warm-up, RSS and JS ArrayBuffer memory stay flat (input
 * copies, packets and pictures reuse their buffers; nothing is retained per frame), and
 * close() gives the codec threads back.
 */
describeCodecs('codecs over many frames', () => {
  it.each(['vp8', 'h264'] as const)(
    '%s: encode + decode of 2500 frames keeps RSS and ArrayBuffer memory flat and frees its threads',
    async (codec) => {
      const threadsBefore = codecThreads();
      const busy = new BusySource(320, 180);
      let decoded = 0;
      let warm: NodeJS.MemoryUsage | null = null;
      let finished: () => void = () => undefined;
      const done = new Promise<void>((resolve) => (finished = resolve));
      // The media worker's pipeline shape, with nothing kept per frame: each packet goes
      // straight into the decoder, each picture is read and let go, then the next frame.
      const dec = VideoDecoder.create(
        { codec },
        {
          onFrame: (f) => {
            decoded++;
            if (f.width !== 320 || f.data.length !== 320 * 180 * 1.5) throw new Error('bad picture');
            if (decoded === 1000) warm = memory();
            if (decoded === FRAMES) finished();
            else enc?.encode(busy.next(decoded).data, decoded);
          },
          onKeyframeNeeded: (reason) => {
            throw new Error(`unexpected keyframe request: ${reason}`);
          },
        },
      );
      const enc = VideoEncoder.create({ codec, width: 320, height: 180, fps: 15, bitrateKbps: 150 }, (f) =>
        dec?.decode(f.data, f.pts),
      );
      if (enc === null || dec === null) throw new Error('codec addon unavailable');
      expect(codecThreads()).toBe(threadsBefore + 2);
      enc.encode(busy.next(0).data, 0);
      await done;
      await dec.idle();
      const end = memory();
      enc.close();
      dec.close();
      expect(await codecThreadsSettled(threadsBefore)).toBe(threadsBefore);
      expect(enc.stats.encoded).toBe(FRAMES);
      expect(dec.stats.decoded).toBe(FRAMES);
      if (warm === null) throw new Error('no warm-up reading');
      const start: NodeJS.MemoryUsage = warm;
      // A leaked input copy or picture would be 86 KB per frame, 130 MB over the 1500 frames
      // after the warm-up; even a 10 KB leak per frame (15 MB) would show.
      expect((end.rss - start.rss) / MB).toBeLessThan(8);
      expect((end.arrayBuffers - start.arrayBuffers) / MB).toBeLessThan(0.5);
    },
  );

  it('Opus: 20000 frames (400 s of 20 ms) keep RSS flat', () => {
    const enc = OpusEncoder.create({ fec: true, packetLossPercent: 10 });
    const dec = OpusDecoder.create({});
    if (enc === null || dec === null) throw new Error('codec addon unavailable');
    const inputs = Array.from({ length: 8 }, (_, k) => {
      const pcm = new Int16Array(960);
      for (let s = 0; s < pcm.length; s++) pcm[s] = ((s * (37 + k)) % 4000) - 2000;
      return pcm;
    });
    const out = new Uint8Array(OPUS_MAX_PACKET_BYTES);
    const back = new Int16Array(960);
    let warm = 0;
    for (let i = 0; i < 20000; i++) {
      const len = enc.encode(inputs[i & 7], out);
      if (i % 7 === 3) dec.conceal(back);
      else dec.decode(out.subarray(0, len), back);
      if (i === 5000) warm = memory().rss;
    }
    expect((memory().rss - warm) / MB).toBeLessThan(4);
    enc.close();
    dec.close();
  });
});
