import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { runProcess } from '../../../workers/kernel/process-control';
import { ManifestStore } from '../../../workers/kernel/recordings/manifest-store';
import { finalizeRecording } from '../../../workers/recording/finalize';
import {
  captureLogs,
  decodeAudio,
  goertzelPower,
  listSegments,
  manifestFor,
  meanColour,
  newRecordingId,
  probeStreams,
  tempRecordingsDir,
} from './media-fixtures';

const logger = captureLogs();
const AAC_FRAME_SEC = 1024 / 48000;

/**
 * Segments as the live capture writes them: each AAC frame in its own PES packet (a real-time
 * muxer flushes audio as it comes; ffmpeg's offline default groups ~16 frames per PES, which
 * hides the overshoot), so a segment's last audio frame runs past the next segment's keyframe.
 * A still picture makes the frames tiny: `tailFrames` frames after the last full segment give a
 * last segment of a few hundred bytes, as a stop just after a segment boundary does.
 */
async function writeLiveLikeSegments(dir: string, fullSegments: number, tailFrames: number): Promise<void> {
  await fs.mkdir(path.join(dir, 'segments'), { recursive: true });
  const seconds = (fullSegments * 2 + tailFrames / 30).toFixed(4);
  // prettier-ignore
  await runProcess('ffmpeg', [
    '-v', 'error',
    '-f', 'lavfi', '-i', `color=c=0x2050d0:size=320x180:rate=30:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-c:a', 'aac', '-ac', '1',
    '-f', 'segment', '-segment_time', '2', '-segment_format', 'mpegts',
    '-segment_format_options', 'pes_payload_size=0',
    path.join(dir, 'segments', 'seg-%05d.ts'),
  ], { timeoutMs: 60000 });
}

/** Gaps between consecutive audio packets of a file (s), beyond one AAC frame. */
async function audioGaps(file: string): Promise<number[]> {
  const { stdout } = await runProcess(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'a', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file],
    { timeoutMs: 30000 },
  );
  const pts = stdout
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
  const gaps: number[] = [];
  for (let i = 1; i < pts.length; i++) {
    const step = pts[i] - pts[i - 1];
    if (step > AAC_FRAME_SEC * 1.1) gaps.push(step - AAC_FRAME_SEC);
  }
  return gaps;
}

describe('finalize keeps the capture timeline (real ffmpeg)', () => {
  let root: string;
  let store: ManifestStore;

  beforeEach(async () => {
    root = await tempRecordingsDir();
    store = new ManifestStore(root, logger);
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  async function finalize(id: string) {
    return finalizeRecording(
      { data: { recordingId: id }, updateProgress: async () => undefined },
      { store, logger },
    );
  }

  it('joins segments without audio gaps and keeps a last segment of one frame', async () => {
    const id = newRecordingId();
    await store.create(manifestFor(id, { width: 320, height: 180, fps: 30 }));
    await writeLiveLikeSegments(store.dirOf(id), 5, 1);
    const segments = await listSegments(store.dirOf(id));
    expect(segments).toHaveLength(6);
    const tail = await fs.stat(store.pathOf(id, `segments/${segments[5]}`));
    // Below what ffmpeg's format detection can recognise as MPEG-TS (> 10 packets).
    expect(tail.size).toBeLessThan(2244);

    const result = await finalize(id);
    expect(result).toMatchObject({ state: 'ready', segmentsUsed: 6, segmentsSkipped: 0 });
    const mp4 = store.pathOf(id, 'recording.mp4');
    // The old list (durations estimated by the concat demuxer) left 5-16 ms gaps at most
    // boundaries; a decoder plays audio gaplessly, so the sound crept ahead of the picture.
    expect(await audioGaps(mp4)).toEqual([]);
    const { streams } = await probeStreams(mp4);
    const video = streams.find((s) => s.codec_type === 'video')!;
    const audio = streams.find((s) => s.codec_type === 'audio')!;
    // 10 s + the tail frame; the audio as long as the picture within one AAC frame.
    expect(Number(video.duration)).toBeCloseTo(10 + 1 / 30, 2);
    const decoded = (await decodeAudio(mp4, 0, 11)).length / 48000;
    expect(Math.abs(decoded - Number(audio.duration))).toBeLessThan(AAC_FRAME_SEC);
    expect(Math.abs(Number(audio.duration) - Number(video.duration))).toBeLessThan(2 * AAC_FRAME_SEC);
    const [r, g, b] = await meanColour(mp4, 9.5);
    expect([Math.abs(r - 0x20), Math.abs(g - 0x50), Math.abs(b - 0xd0)].every((d) => d < 20)).toBe(true);
    const pcm = await decodeAudio(mp4, 9, 1);
    expect(goertzelPower(pcm, 440)).toBeGreaterThan(100 * goertzelPower(pcm, 1000));
    // Nothing but the outputs is left beside the segments (the padded copy is gone).
    const left = (await fs.readdir(store.dirOf(id))).sort();
    expect(left).toEqual(['manifest.json', 'recording.mp4', 'segments', 'thumbnail.jpg']);
  });

  it('closes the gap of a lost middle segment in both streams alike', async () => {
    // The time lost is not kept as a 2 s hole; at that one boundary the sound may be off by up
    // to the lost segment's audio overshoot (less than an AAC frame).
    const id = newRecordingId();
    await store.create({ ...manifestFor(id, { width: 320, height: 180, fps: 30 }), interrupted: true });
    await writeLiveLikeSegments(store.dirOf(id), 4, 0);
    const segments = await listSegments(store.dirOf(id));
    await fs.rm(store.pathOf(id, `segments/${segments[1]}`));
    const result = await finalize(id);
    expect(result).toMatchObject({ state: 'interrupted', segmentsUsed: 3 });
    const mp4 = store.pathOf(id, 'recording.mp4');
    const gaps = await audioGaps(mp4);
    expect(gaps.length).toBeLessThanOrEqual(1);
    for (const g of gaps) expect(g).toBeLessThan(AAC_FRAME_SEC);
    const { streams } = await probeStreams(mp4);
    const video = streams.find((s) => s.codec_type === 'video')!;
    expect(Number(video.duration)).toBeCloseTo(6, 1);
  });
});
