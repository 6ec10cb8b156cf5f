import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RecordingManifest } from '../../../workers/protocol/recording';
import { FlashBeepSender, pairOnsets, SinkOnsets, summarize } from '../../../bench/lip-sync/flash-beep';
import { analyseRecording } from '../../../bench/lip-sync/recording';
import { adminFetch, api } from '../../helpers/api';
import { useLiveServer } from '../../helpers/live-room';
import { samples } from '../../helpers/metrics';
import { waitFor } from '../../helpers/signal';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Lip sync end to end (issue #15 item 1), coarse: a real wrtc publisher flashes and beeps at
 * the same instant every ~2 s, the server records the room, and in the MP4 the beeps must sit
 * within ±80 ms of the flashes (median over the events). The figures, with their spread, come
 * from `npm run bench:lip-sync` (docs/lip-sync.md); this test only makes sure a regression (the
 * audio ~60 ms late again, or worse) cannot pass silently, on a loaded 2-core machine too.
 */
describe('lip sync through WebRTC (real wrtc publisher and viewer, real recording)', () => {
  // A 640x360 recording: at 720p a loaded machine's ffmpeg dropped most frames (seen: 4500 in
  // 30 s), and with them most flashes.
  const live = useLiveServer({ METRICS_POLL_MS: '1000', RECORDING_PROFILE: 'standard' });
  const senders: FlashBeepSender[] = [];
  afterEach(() => {
    for (const s of senders.splice(0)) s.stop();
  });

  it("holds the publisher's video back by its audio path and records flash and beep within ±80 ms", async () => {
    const sender = new FlashBeepSender();
    senders.push(sender);
    const publisher = await live.join('lips', 'flash', { attachMedia: (pc) => sender.attach(pc) });
    sender.start();
    const sink = new SinkOnsets();
    await live.join('lips', 'viewer', {
      role: 'viewer',
      onVideoFrame: (f, at) => sink.onVideoFrame(f, at),
      onAudio: (s, rate, ch, at) => sink.onAudio(s, rate, ch, at),
    });
    await waitFor(
      () => sink.frames > 0 && sink.audioOnsets.length > 0,
      45_000,
      'flash and beep at the viewer',
    );

    const started = await api<RecordingManifest>(live.server, '/api/rooms/lips/recordings', {
      method: 'POST',
      body: {},
    });
    expect(started.status).toBe(201);
    // NetEq settles within the first seconds of a call (offsets of 300 ms and more right after
    // the connection); 28 s of recording hold ~14 events, twice the 7 the checks below need.
    await sleep(28_000);

    // The server estimates the publisher's A/V offset and reports the delay it applies (the
    // mechanism is on). On the shared default the estimate for this wrtc publisher is small
    // (≈ 5–30 ms, docs/lip-sync.md) and may round to no delay at all: its value is not judged,
    // the recording below is.
    const metrics = await (await fetch(`${live.server.url}/metrics`)).text();
    const ofPublisher = (name: string) =>
      samples(metrics, name).find((s) => s.labels.participant === publisher.participantId);
    expect(Number.isFinite(ofPublisher('mcu_av_sync_estimate_ms')?.value)).toBe(true);
    // On the shared default the publisher is an RTP-level member, and its sender's reports put
    // both streams on one clock: the estimate is measured on it, not modelled.
    expect(ofPublisher('mcu_av_sync_sender_clock')?.value).toBe(1);
    const applied = ofPublisher('mcu_av_sync_video_delay_ms');
    expect(applied?.value).toBeGreaterThanOrEqual(0);

    const stopped = await api(live.server, `/api/recordings/${started.body.id}/stop`, { method: 'POST' });
    expect(stopped.status).toBe(200);
    const deadline = Date.now() + 120_000;
    let state = '';
    while (Date.now() < deadline && !['ready', 'interrupted', 'failed'].includes(state)) {
      await sleep(500);
      state = (await api<RecordingManifest>(live.server, `/api/recordings/${started.body.id}`)).body.state;
    }
    expect(state).toBe('ready');
    const res = await adminFetch(live.server, `/api/recordings/${started.body.id}/download`);
    expect(res.status).toBe(200);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-lips-'));
    const file = path.join(dir, 'rec.mp4');
    fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    try {
      const rec = await analyseRecording(file, 1);
      // The first events of a call carry NetEq's start-up delay, not the steady state: judged
      // from the third event on.
      const settled = rec.events.slice(2);
      const s = summarize(settled);
      process.stdout.write(
        `lip sync: recording offsets ${rec.events.map((e) => e.offsetMs.toFixed(0)).join(' ')} ms; ` +
          `applied video delay ${applied?.value} ms\n`,
      );
      expect(settled.length).toBeGreaterThanOrEqual(5);
      expect(Math.abs(s.medianMs ?? Infinity)).toBeLessThanOrEqual(80);
      // The viewer saw the same events (its own receive stack adds an offset of its own, so it is
      // reported, not judged: docs/lip-sync.md).
      const viewer = summarize(pairOnsets(sink.videoOnsets, sink.audioOnsets));
      process.stdout.write(`lip sync: viewer ${JSON.stringify(viewer)}\n`);
      expect(viewer.events).toBeGreaterThanOrEqual(5);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
