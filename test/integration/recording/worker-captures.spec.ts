import * as fs from 'node:fs';
import * as path from 'node:path';
import { RecordingCancelledError } from '../../../src/common/errors';
import { MediaWorker } from '../../../src/media/media-worker';
import { setLogSink } from '../../../workers/kernel/logger';
import type {
  MediaNotification,
  MediaNotificationMap,
  RoomMediaSettings,
} from '../../../workers/protocol/media';
import { ffmpegChildren } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import { listSegments, probeStreams, tempRecordingsDir } from './media-fixtures';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const settings: RoomMediaSettings = {
  layout: 'grid',
  fit: 'crop',
  pinnedParticipantId: null,
  maxParticipants: 4,
  iceServers: [],
  maxSdpBytes: 65536,
  maxIceCandidatesPerParticipant: 64,
  qualityRecoverMs: 10000,
  qualityShedding: false,
};

/** Command lines of the ffmpeg children of a process. */
function ffmpegCommands(pid: number): string[] {
  return ffmpegChildren(pid).map((c) => c.cmdline);
}

/**
 * The media worker's side of "never a capture the control plane does not know of", on the real
 * compiled worker (its room has nobody in it: the recording is the placeholder composite and
 * silence) and real ffmpeg, driven over its IPC channel as the control plane drives it.
 */
describe('captures in a real media worker', () => {
  let root: string;
  let worker: MediaWorker;
  const ended: MediaNotificationMap['recording.ended'][] = [];

  beforeAll(() => setLogSink(() => undefined));
  beforeEach(async () => {
    root = await tempRecordingsDir();
    ended.length = 0;
    worker = new MediaWorker(
      {
        roomId: 'captures',
        settings,
        requestTimeoutMs: 20000,
        startTimeoutMs: 20000,
        logLevel: 'warn',
      },
      (n: MediaNotification) => {
        if (n.event === 'recording.ended') ended.push(n.data);
      },
    );
    await worker.start();
  });
  afterEach(async () => {
    await worker.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const startReq = (recordingId: string) => ({
    recordingId,
    dir: path.join(root, recordingId),
    profile: 'low' as const,
    segmentSeconds: 1,
  });

  it('a start under a new id ends the capture the control plane no longer knows of, keeping what it recorded', async () => {
    const pid = worker.pid as number;
    await worker.request('recording.start', startReq('rec_orphan01'));
    await sleep(2500);
    expect(ffmpegCommands(pid)).toEqual([expect.stringContaining('rec_orphan01')]);

    // The control plane gave up on rec_orphan01 and never stopped it; its next start replaces it.
    await worker.request('recording.start', startReq('rec_next0001'));
    expect(ended).toEqual([
      {
        recordingId: 'rec_orphan01',
        interrupted: false,
        reason: 'stopped',
        detail: 'stopped',
        // No sound lost on a machine that keeps up (a loaded one may drop a frame), as the
        // manifest will say.
        losses: { audioDroppedSec: 0, videoFramesDropped: expect.any(Number) },
      },
    ]);
    expect(ffmpegCommands(pid)).toEqual([expect.stringContaining('rec_next0001')]);
    // The replaced capture's last segment was closed: what it recorded is playable.
    const segments = await listSegments(path.join(root, 'rec_orphan01'));
    expect(segments.length).toBeGreaterThanOrEqual(2);
    const { streams } = await probeStreams(path.join(root, 'rec_orphan01', 'segments', segments[0]));
    expect(streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    // Stops go by id: the replaced one is not active any more, the new one is.
    await expect(worker.request('recording.stop', { recordingId: 'rec_orphan01' })).rejects.toMatchObject({
      code: 'conflict',
    });
    await sleep(1500);
    expect(await worker.request('recording.stop', { recordingId: 'rec_next0001' })).toEqual({
      interrupted: false,
      losses: { audioDroppedSec: 0, videoFramesDropped: expect.any(Number) },
    });
    await waitFor(() => ffmpegCommands(pid).length === 0, 15000, 'no capture ffmpeg left');
  });

  it('a stop sent right behind its start ends the capture as soon as it is up; the room records again', async () => {
    const pid = worker.pid as number;
    // What the control plane sends when it gave up waiting for a start: both are queued for the
    // worker in this order.
    const start = worker.request('recording.start', startReq('rec_abandon1')).catch((e: unknown) => e);
    const stop = worker.request('recording.stop', { recordingId: 'rec_abandon1' });
    expect(await stop).toEqual({ interrupted: expect.any(Boolean), losses: expect.anything() });
    expect(await start).toBeInstanceOf(RecordingCancelledError);
    expect(ended.map((e) => [e.recordingId, e.reason])).toEqual([['rec_abandon1', 'stopped']]);
    await waitFor(() => ffmpegCommands(pid).length === 0, 15000, 'the cancelled capture ffmpeg to exit');

    await worker.request('recording.start', startReq('rec_after001'));
    await sleep(2500);
    expect(await worker.request('recording.stop', { recordingId: 'rec_after001' })).toEqual({
      interrupted: false,
      losses: { audioDroppedSec: 0, videoFramesDropped: expect.any(Number) },
    });
    expect((await listSegments(path.join(root, 'rec_after001'))).length).toBeGreaterThanOrEqual(2);
  });

  it('a start that replaces a capture and is itself given up on is stopped too: nothing is left running', async () => {
    const pid = worker.pid as number;
    await worker.request('recording.start', startReq('rec_forgot01'));
    await sleep(1500);
    // The control plane gave up on rec_forgot01 long ago; now its start of rec_giveup1 times out
    // too (the worker still ends rec_forgot01 first), and its compensating stop follows.
    const start = worker.request('recording.start', startReq('rec_giveup1')).catch((e: unknown) => e);
    const stop = worker.request('recording.stop', { recordingId: 'rec_giveup1' });
    expect(await stop).toEqual({ interrupted: expect.any(Boolean), losses: expect.anything() });
    await start;
    expect(ended.map((e) => e.recordingId)).toEqual(['rec_forgot01', 'rec_giveup1']);
    await waitFor(() => ffmpegCommands(pid).length === 0, 15000, 'no capture ffmpeg left');
  });
});
