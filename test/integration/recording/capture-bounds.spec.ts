import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import ffmpeg from 'fluent-ffmpeg';
import { OUTPUT_PROFILES } from '../../../workers/protocol/media';
import { RoomRecorder } from '../../../workers/media/room-recorder';
import {
  AUDIO_SAMPLE_RATE,
  AUDIO_SAMPLES_PER_PUSH,
  RecordingSegmenter,
  type RecordingSegmenterOptions,
} from '../../../workers/media/recorder/recording-segmenter';
import { isAlive } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import {
  captureLogs,
  listSegments,
  logLines,
  newRecordingId,
  probeStreams,
  tempRecordingsDir,
} from './media-fixtures';

const logger = captureLogs();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Peak resident memory of a process so far (VmHWM), in MB; 0 once it is gone. */
function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * The capture's input queues are bounded. The soak benchmark saw the capture ffmpeg of a 720p30
 * recording at 270-500 MB RSS when x264 fell behind: ffmpeg's own queue of raw frames between its
 * stdin reader and the encoder (`-thread_queue_size`, was 512 frames of 1.38 MB) absorbed the
 * backlog instead of our bounded, counted one. Audio waiting for the FIFO was not bounded at all.
 */
describe('capture input bounds (real ffmpeg)', () => {
  let root: string;
  beforeEach(async () => {
    root = await tempRecordingsDir();
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('an encoder that cannot keep up costs dropped frames (logged, counted), not ffmpeg memory', async () => {
    const { width, height, fps } = OUTPUT_PROFILES.high;
    const segmenter = new RecordingSegmenter({
      recordingId: newRecordingId(),
      dir: `${root}/flood`,
      width,
      height,
      fps,
      segmentSeconds: 2,
      logger,
    });
    await segmenter.start();
    const pid = segmenter.pid as number;
    // Random pixels are the worst case for x264, and media time runs at 4x the wall clock: no
    // machine of this class encodes that in time, so frames back up.
    const frames = Array.from({ length: 4 }, () => randomFillSync(new Uint8Array((width * height * 3) / 2)));
    const audio = new Int16Array(AUDIO_SAMPLES_PER_PUSH);
    const speed = 4;
    const ticks = 12 * 100; // 12 s of media
    let peak = 0;
    let maxVideoBacklog = 0;
    const t0 = Date.now();
    for (let t = 0; t < ticks;) {
      const due = Math.min(ticks, Math.floor(((Date.now() - t0) / 10) * speed));
      for (; t < due; t++) {
        segmenter.pushAudio(audio);
        if (t % 3 === 0) segmenter.pushVideo({ width, height, data: frames[t % 4] });
        maxVideoBacklog = Math.max(maxVideoBacklog, segmenter.backlogBytes.video);
      }
      peak = Math.max(peak, peakRssMb(pid));
      await sleep(10);
    }
    peak = Math.max(peak, peakRssMb(pid));
    const stats = segmenter.stats;
    await segmenter.stop();
    expect(isAlive(pid)).toBe(false);

    const frameBytes = (width * height * 3) / 2;
    // Our queue: at most ⌈fps/3⌉ = 10 frames.
    expect(maxVideoBacklog).toBeLessThanOrEqual(10 * frameBytes);
    expect(stats.videoFramesDropped).toBeGreaterThan(0);
    expect(logLines.some((l) => l.includes('dropping recording video'))).toBe(true);
    // ffmpeg's: 8 raw frames (11 MB) plus the encoder's own. With the old 512-frame queue the
    // same feed took it to 757 MB (and 531 MB in real time); with the bound about 100 MB.
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(250);
    // What was written is a recording: every segment decodes.
    const segments = await listSegments(`${root}/flood`);
    expect(segments.length).toBeGreaterThan(0);
    const first = await probeStreams(`${root}/flood/segments/${segments[0]}`);
    expect(first.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
  });

  it('audio that ffmpeg does not read is dropped past the bound, and the capture resumes in step', async () => {
    const width = 160;
    const height = 90;
    const fps = 10;
    const maxAudioBacklogBytes = AUDIO_SAMPLE_RATE * 2; // 1 s
    const segmenter = new RecordingSegmenter({
      recordingId: newRecordingId(),
      dir: `${root}/stuck`,
      width,
      height,
      fps,
      segmentSeconds: 1,
      logger,
      maxAudioBacklogBytes,
    });
    await segmenter.start();
    const pid = segmenter.pid as number;
    const frame = { width, height, data: new Uint8Array((width * height * 3) / 2).fill(128) };
    const audio = new Int16Array(AUDIO_SAMPLES_PER_PUSH);
    let pushed = 0;
    let maxAudioBacklog = 0;
    const feed = async (ticks: number) => {
      for (let t = 0; t < ticks; t++) {
        segmenter.pushAudio(audio);
        pushed += audio.length;
        if (t % 10 === 0) segmenter.pushVideo(frame);
        maxAudioBacklog = Math.max(maxAudioBacklog, segmenter.backlogBytes.audio);
        if (t % 10 === 9) await sleep(5);
      }
    };
    await feed(100);
    process.kill(pid, 'SIGSTOP');
    try {
      // 6 s of audio while ffmpeg reads nothing: the FIFO (64 KB) and 1 s of ours fill up.
      await feed(600);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const stalled = segmenter.stats;
    expect(stalled.audioSamplesDropped).toBeGreaterThan(0);
    expect(logLines.some((l) => l.includes('ffmpeg is not reading recording audio: dropping it'))).toBe(true);
    // One 10 ms tick may land on top of a backlog just under the bound.
    expect(maxAudioBacklog).toBeLessThanOrEqual(maxAudioBacklogBytes + AUDIO_SAMPLES_PER_PUSH * 2);
    // Once ffmpeg reads again, audio is written again.
    await waitFor(
      () => segmenter.backlogBytes.audio < maxAudioBacklogBytes,
      30000,
      'ffmpeg to read the backlog',
    );
    await feed(100);
    await waitFor(
      () => logLines.some((l) => l.includes('recording audio caught up')),
      30000,
      'the recovery to be logged',
    );
    const stats = segmenter.stats;
    expect(stats.audioSamplesWritten + stats.audioSamplesDropped).toBe(pushed);
    // What the manifest will say the recording lacks.
    expect(segmenter.losses.audioDroppedSec).toBeCloseTo(stats.audioSamplesDropped / AUDIO_SAMPLE_RATE, 2);
    expect(segmenter.losses.audioDroppedSec).toBeGreaterThan(0);
    expect(stats.audioSamplesWritten).toBeGreaterThan(stalled.audioSamplesWritten);
    expect(await segmenter.stop()).toEqual({ interrupted: false });
    // Video followed the audio that was written (it is due from the audio count), not the time
    // that was dropped: the two streams end together.
    // MPEG-TS segments concatenate: probe them as one stream.
    const segments = await listSegments(`${root}/stuck`);
    const { streams } = await probeStreams(
      `concat:${segments.map((n) => `${root}/stuck/segments/${n}`).join('|')}`,
    );
    const audioSec = Number(streams.find((x) => x.codec_type === 'audio')?.duration);
    const videoSec = Number(streams.find((x) => x.codec_type === 'video')?.duration);
    expect(Math.abs(audioSec - stats.audioSamplesWritten / AUDIO_SAMPLE_RATE)).toBeLessThan(0.5);
    expect(Math.abs(videoSec - audioSec)).toBeLessThan(0.5);
  });
});

/**
 * ffmpeg made slower than real time without burning CPU: the same command reading its video at
 * half its rate (`-readrate 0.5`), so it takes its input at half the rate it is fed, as an encoder
 * on an overloaded machine does.
 */
async function halfSpeedFfmpeg(dir: string): Promise<string> {
  const file = `${dir}/ffmpeg-half-speed.sh`;
  // -readrate applies to the input it precedes: the first, the video on stdin.
  await fs.writeFile(file, '#!/bin/bash\nexec ffmpeg -readrate 0.5 "$@"\n', { mode: 0o755 });
  return file;
}

/** A small capture (320x180, 15 fps, 1 s segments) whose ffmpeg runs at half speed. */
async function halfSpeedSegmenter(
  root: string,
  name: string,
  opts: Partial<RecordingSegmenterOptions> = {},
): Promise<{
  segmenter: RecordingSegmenter;
  dir: string;
  frame: { width: number; height: number; data: Uint8Array };
}> {
  const width = 320;
  const height = 180;
  const dir = `${root}/${name}`;
  const segmenter = new RecordingSegmenter({
    recordingId: newRecordingId(),
    dir,
    width,
    height,
    fps: 15,
    segmentSeconds: 1,
    logger,
    ffmpegPath: await halfSpeedFfmpeg(root),
    ...opts,
  });
  return {
    segmenter,
    dir,
    frame: { width, height, data: new Uint8Array((width * height * 3) / 2).fill(120) },
  };
}

describe('a capture behind real time at stop', () => {
  let root: string;
  beforeEach(async () => {
    root = await tempRecordingsDir();
  });
  afterEach(async () => {
    // fluent-ffmpeg keeps the path of the last setFfmpegPath for the whole process.
    ffmpeg.setFfmpegPath('ffmpeg');
    await fs.rm(root, { recursive: true, force: true });
  });

  /**
   * Soak and overload runs saw every stop under sustained load end `interrupted`: ffmpeg was
   * still encoding its backlog when the fixed 15 s bound killed it. The stop now waits as long as
   * ffmpeg keeps taking its input, and kills it only once it takes nothing for stopTimeoutMs.
   */
  it('is waited for while it encodes its backlog, past the no-progress bound; nothing fed is lost', async () => {
    const { segmenter, dir, frame } = await halfSpeedSegmenter(root, 'behind', { stopTimeoutMs: 2000 });
    await segmenter.start();
    const audio = new Int16Array(AUDIO_SAMPLES_PER_PUSH);
    const ticks = 6 * 100; // 6 s of media in real time
    const t0 = Date.now();
    for (let t = 0; t < ticks;) {
      const due = Math.min(ticks, Math.floor((Date.now() - t0) / 10));
      for (; t < due; t++) {
        segmenter.pushAudio(audio);
        if (t % 7 === 0) segmenter.pushVideo(frame);
      }
      await sleep(10);
    }
    const fed = segmenter.stats;
    const stopAt = Date.now();
    const result = await segmenter.stop();
    expect(result).toEqual({ interrupted: false });
    const stopMs = Date.now() - stopAt;
    // At half speed about 3 s of the 6 were still to encode (~6 s of wall time): longer than the
    // 2 s bound on no progress, where a fixed bound would have ended it with SIGTERM.
    expect(stopMs).toBeGreaterThan(2000);
    expect(logLines.some((l) => l.includes('ffmpeg is still encoding its backlog'))).toBe(true);
    expect(logLines.some((l) => l.includes('did not finish the recording in time'))).toBe(false);
    expect(fed.audioSamplesDropped).toBe(0);
    const segments = await listSegments(dir);
    const { streams } = await probeStreams(`concat:${segments.map((n) => `${dir}/segments/${n}`).join('|')}`);
    const audioSec = Number(streams.find((x) => x.codec_type === 'audio')?.duration);
    const videoSec = Number(streams.find((x) => x.codec_type === 'video')?.duration);
    expect(Math.abs(audioSec - segmenter.stats.audioSamplesWritten / AUDIO_SAMPLE_RATE)).toBeLessThan(0.3);
    expect(audioSec).toBeGreaterThan(5.7);
    expect(Math.abs(videoSec - audioSec)).toBeLessThan(0.3);
  });

  it('is ended once its bound is reached (limitStop, as a closing worker does), keeping what it wrote', async () => {
    const { segmenter, dir, frame } = await halfSpeedSegmenter(root, 'bounded');
    await segmenter.start();
    const audio = new Int16Array(AUDIO_SAMPLES_PER_PUSH);
    // 8 s of media at once: at half speed ffmpeg needs ~16 s for it.
    for (let t = 0; t < 800; t++) {
      segmenter.pushAudio(audio);
      if (t % 7 === 0) segmenter.pushVideo(frame);
    }
    const stopAt = Date.now();
    const stopped = segmenter.stop();
    segmenter.limitStop(2000);
    expect(await stopped).toEqual({ interrupted: true });
    // The bound, then SIGTERM (ffmpeg closes its segment at once).
    expect(Date.now() - stopAt).toBeLessThan(6000);
    expect(logLines.some((l) => l.includes('stop bound reached'))).toBe(true);
    const segments = await listSegments(dir);
    expect(segments.length).toBeGreaterThan(0);
    const first = await probeStreams(`${dir}/segments/${segments[0]}`);
    expect(first.streams.map((x) => x.codec_type).sort()).toEqual(['audio', 'video']);
  });
});

describe('RoomRecorder: a stop that overtakes its start', () => {
  let root: string;
  beforeEach(async () => {
    root = await tempRecordingsDir();
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('ends the capture as soon as ffmpeg is up; the start reports it was cancelled', async () => {
    const recordingId = newRecordingId();
    const recorder = new RoomRecorder(
      { recordingId, dir: `${root}/${recordingId}`, profile: 'low', segmentSeconds: 1 },
      OUTPUT_PROFILES.low,
      logger,
    );
    const ended: unknown[][] = [];
    recorder.onEnded = (...args) => ended.push(args);
    // What the worker does with a start and the compensating stop that follows it in the queue.
    const started = recorder.start().then(
      () => null,
      (err: unknown) => err,
    );
    const stopped = recorder.stop();
    expect(recorder.stop()).toBe(stopped);
    // Nothing was recorded, so nothing lost.
    const none = { audioDroppedSec: 0, videoFramesDropped: 0 };
    expect(await stopped).toEqual({ interrupted: expect.any(Boolean), losses: none });
    expect(await started).toMatchObject({ name: 'RecordingCancelledError' });
    expect(ended).toEqual([[expect.any(Boolean), 'stopped', 'stopped', none]]);
    // The media loop's pushes are ignored from now on; nothing was recorded and the FIFO is gone.
    // (40 ms: a tick on which a running capture would begin.)
    recorder.pushAudio(new Int16Array(AUDIO_SAMPLES_PER_PUSH), 40);
    expect((await fs.readdir(`${root}/${recordingId}`)).sort()).toEqual(['segments']);
    for (const s of await listSegments(`${root}/${recordingId}`))
      expect((await fs.stat(`${root}/${recordingId}/segments/${s}`)).size).toBe(0);
  });

  it('a stop of a capture whose start failed says it never ran', async () => {
    const recordingId = newRecordingId();
    // A directory that cannot be created: the start fails before ffmpeg runs.
    await fs.writeFile(`${root}/file`, '');
    const recorder = new RoomRecorder(
      { recordingId, dir: `${root}/file/${recordingId}`, profile: 'low', segmentSeconds: 1 },
      OUTPUT_PROFILES.low,
      logger,
    );
    const started = recorder.start().then(
      () => null,
      (err: unknown) => err,
    );
    await expect(recorder.stop()).rejects.toMatchObject({ name: 'RecordingCancelledError' });
    expect(await started).toMatchObject({ code: 'ENOTDIR' });
  });
});
