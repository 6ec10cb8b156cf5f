import * as fs from 'node:fs/promises';
import { RecordingSegmenter } from '../../../workers/media/recorder/recording-segmenter';
import { finalizeRecording } from '../../../workers/recording/finalize';
import { ManifestStore } from '../../../workers/kernel/recordings/manifest-store';
import {
  captureLogs,
  feedRealtime,
  listSegments,
  manifestFor,
  newRecordingId,
  probeStreams,
  tempRecordingsDir,
} from './media-fixtures';

const logger = captureLogs();

describe('a capture that dies mid-recording', () => {
  let root: string;
  let store: ManifestStore;

  beforeEach(async () => {
    root = await tempRecordingsDir();
    store = new ManifestStore(root, logger);
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('fires onExit on SIGKILL and finalizes to a playable "interrupted" mp4 with every complete segment', async () => {
    const id = newRecordingId();
    const profile = { width: 320, height: 180, fps: 15 };
    await store.create(manifestFor(id, profile));
    const segmenter = new RecordingSegmenter({
      recordingId: id,
      dir: store.dirOf(id),
      ...profile,
      segmentSeconds: 1,
      logger,
    });
    const exits: Array<[number | null, NodeJS.Signals | null]> = [];
    let marked: Promise<unknown> = Promise.resolve();
    segmenter.onExit((code, signal) => {
      exits.push([code, signal]);
      // What the media worker does when it learns capture died.
      marked = store.update(id, (m) => {
        m.interrupted = true;
      });
    });
    await segmenter.start();
    expect(segmenter.pid).toEqual(expect.any(Number));

    await feedRealtime(segmenter, { ...profile, seconds: 3.5, rgb: [30, 200, 30], toneHz: 440 });
    // Segments closed before the kill: all but the one being written.
    const complete = (await listSegments(store.dirOf(id))).length - 1;
    expect(complete).toBeGreaterThanOrEqual(2);
    process.kill(segmenter.pid!, 'SIGKILL');
    // The media loop keeps ticking for a moment after the death: pushes must be harmless.
    await feedRealtime(
      segmenter,
      { ...profile, seconds: 5, rgb: [30, 200, 30], toneHz: 440 },
      () => exits.length > 0,
    );
    expect(exits).toEqual([[null, 'SIGKILL']]);
    expect(segmenter.pushAudio(new Int16Array(480))).toBe(false);
    expect(await segmenter.stop()).toEqual({ interrupted: true });

    await marked;
    const manifest = await store.read(id);
    expect(manifest.interrupted).toBe(true);
    const result = await finalizeRecording(
      { data: { recordingId: id }, updateProgress: async () => undefined },
      { store, logger },
    );
    expect(result.state).toBe('interrupted');
    const final = await store.read(id);
    expect(final.state).toBe('interrupted');
    expect(final.endedAt).toBeDefined();
    const { durationSec, streams } = await probeStreams(store.pathOf(id, 'recording.mp4'));
    expect(durationSec).toBeGreaterThanOrEqual(complete * 1 - 0.1);
    expect(streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
  });

  it('stop() on a healthy capture is graceful: ffmpeg exits 0 and onExit does not fire', async () => {
    const id = newRecordingId();
    const profile = { width: 160, height: 90, fps: 10 };
    const segmenter = new RecordingSegmenter({
      recordingId: id,
      dir: `${root}/${id}`,
      ...profile,
      segmentSeconds: 1,
      logger,
    });
    let exited = false;
    segmenter.onExit(() => (exited = true));
    await segmenter.start();
    await feedRealtime(segmenter, { ...profile, seconds: 1.2, rgb: [0, 0, 0], toneHz: 1000 });
    expect(await segmenter.stop()).toEqual({ interrupted: false });
    expect(exited).toBe(false);
    expect(() =>
      segmenter.pushVideo({ width: 160, height: 90, data: new Uint8Array(160 * 90 * 1.5) }),
    ).not.toThrow();
    await expect(segmenter.stop()).rejects.toMatchObject({ name: 'SegmenterStateError' });
    // The FIFO is cleaned up; only segments (and no stray files) remain.
    expect((await fs.readdir(`${root}/${id}`)).sort()).toEqual(['segments']);
  });

  it('rejects frames that are not exactly the recording size', async () => {
    const segmenter = new RecordingSegmenter({
      recordingId: newRecordingId(),
      dir: `${root}/x`,
      width: 160,
      height: 90,
      fps: 10,
      segmentSeconds: 1,
      logger,
    });
    expect(() => segmenter.pushAudio(new Int16Array(480))).toThrow(/before start/);
    await segmenter.start();
    expect(() =>
      segmenter.pushVideo({ width: 320, height: 180, data: new Uint8Array(320 * 180 * 1.5) }),
    ).toThrow(expect.objectContaining({ name: 'FrameSizeError' }));
    await segmenter.stop();
  });
});
