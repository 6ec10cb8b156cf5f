import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setLogSink } from '../../../workers/media/rtp/log';
import { RtpPeer, shutdownRtpStack } from '../../../workers/media/rtp';
import { call, openTestPage, waitFor, type RtpTestPage } from './chromium';
import { colourY4m, expectedYuv, h264Decoder, type Yuv } from './media-files';

/** Chromium restricted to H.264 publishes its fake camera (one colour) to an RtpPeer. */
describe('RtpPeer receiving H.264 + Opus from Chromium', () => {
  const COLOUR = '0x2060C0';
  let dir: string;
  let browser: RtpTestPage;
  let peer: RtpPeer | null = null;

  beforeAll(async () => {
    setLogSink(() => {});
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtp-rx-'));
    browser = await openTestPage(dir, colourY4m(dir, COLOUR));
  });

  afterAll(async () => {
    peer?.close();
    shutdownRtpStack();
    await browser?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers with H.264 only, without transport-cc, and rebuilds access units ffmpeg decodes to the camera colour', async () => {
    const offer = await call(browser.page, 'publish', 'H264');
    expect(offer).toMatch(/transport-cc/); // what we must decline
    const rx = new RtpPeer({ id: 'rx', bindAddress: '127.0.0.1' });
    peer = rx;
    // Trickle: our candidates go to the page as they come.
    const trickled: Promise<void>[] = [];
    rx.on('candidate', (c) => trickled.push(call(browser.page, 'addCandidate', c.candidate, c.mid)));
    const decoder = h264Decoder();
    let frames = 0;
    let audioPackets = 0;
    rx.on('video-frame', (f) => {
      expect(f.codec).toBe('H264');
      frames++;
      decoder.write(f.data);
    });
    rx.on('audio-packet', () => audioPackets++);

    const answer = await rx.acceptOffer(offer);
    expect(answer).not.toMatch(/transport-cc|transport-wide/);
    expect(answer).toMatch(/a=rtpmap:\d+ H264\/90000/);
    expect(answer).not.toMatch(/VP8|VP9|AV1/);
    expect(answer).toMatch(/a=recvonly/);
    await call(browser.page, 'setAnswer', answer);

    await waitFor(
      async () => frames,
      (n) => n >= 30,
      '30 H.264 frames from Chromium',
    );
    await Promise.all(trickled);
    expect(trickled.length).toBeGreaterThan(0);

    // Our PLI makes Chromium send a fresh keyframe.
    const before = rx.getStats().video.receive?.keyframesReceived ?? 0;
    expect(before).toBeGreaterThanOrEqual(1);
    expect(rx.requestKeyframe()).toBe(true);
    expect(rx.requestKeyframe()).toBe(false); // throttled
    await waitFor(
      async () => rx.getStats().video.receive?.keyframesReceived ?? 0,
      (k) => k > before,
      'a keyframe after our PLI',
    );

    const stats = rx.getStats();
    expect(stats.connectionState).toBe('connected');
    expect(stats.videoCodec).toBe('H264');
    expect(stats.video.receive?.framesReceived).toBe(frames);
    expect(stats.video.receive?.bitrate).toBeGreaterThan(0);
    expect(audioPackets).toBeGreaterThan(50);
    const sent = await call(browser.page, 'stats');
    expect(sent.video.codec).toBe('video/H264');
    expect(sent.video.pliCount).toBeGreaterThanOrEqual(1); // our PLI, as Chromium counted it

    rx.removeAllListeners('video-frame');
    const written = frames;
    const means = await decoder.finish();
    // Every access unit we handed over decoded (ffmpeg drops nothing it can decode).
    expect(means.length).toBe(written);
    expectColour(means[means.length - 1]);
  });

  it('NACKs packets lost on the way in; Chromium resends them on RTX and no frame is lost', async () => {
    peer?.close();
    await browser.close();
    browser = await openTestPage(dir, colourY4m(dir, COLOUR));
    const offer = await call(browser.page, 'publish', 'H264');
    expect(offer).toMatch(/a=rtpmap:\d+ rtx\/90000/);
    // Deterministic loss: the first arrival of every 30th video packet from Chromium is ignored.
    const dropped = new Set<number>();
    const drop = (seq: number) => seq % 30 === 0 && !dropped.has(seq) && dropped.add(seq).size > 0;
    const rx = new RtpPeer({ id: 'rx-loss', bindAddress: '127.0.0.1', simulateIncomingVideoLoss: drop });
    peer = rx;
    const decoder = h264Decoder();
    rx.on('video-frame', (f) => decoder.write(f.data));
    await call(browser.page, 'setAnswer', await rx.acceptOffer(offer, { waitForCandidates: true }));
    const stats = await waitFor(
      async () => rx.getStats().video.receive,
      (s) => s !== null && s.packetsRecovered >= 3 && s.framesReceived >= 45,
      'recovered packets and 45 frames',
    );
    rx.removeAllListeners('video-frame');
    expect(stats?.nacksSent).toBeGreaterThan(0);
    expect(stats?.packetsRetransmitted).toBeGreaterThan(0); // on the RTX stream
    const sent = await call(browser.page, 'stats');
    expect(sent.video.nackCount).toBeGreaterThan(0); // Chromium counts the NACKs it received
    // Recovered in time: losses are repaired by retransmission rather than by discarding frames.
    // A quiet machine discards none; under heavy load a retransmission can miss its frame's
    // deadline (the receiver does not wait without bound), so fewer discards than repairs.
    expect(stats?.framesDiscarded ?? Infinity).toBeLessThan(stats?.packetsRecovered ?? 0);
    const means = await decoder.finish();
    expectColour(means[means.length - 1]);
  });

  function expectColour(got: Yuv): void {
    const want = expectedYuv(COLOUR);
    expect(Math.abs(got.y - want.y)).toBeLessThan(12);
    expect(Math.abs(got.u - want.u)).toBeLessThan(8);
    expect(Math.abs(got.v - want.v)).toBeLessThan(8);
  }
});
