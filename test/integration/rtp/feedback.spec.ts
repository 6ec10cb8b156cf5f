import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setLogSink } from '../../../workers/media/rtp/log';
import { RtpPeer, shutdownRtpStack, type KeyframeRequest } from '../../../workers/media/rtp';
import { call, connectToView, openTestPage, waitFor, type RtpTestPage } from './chromium';
import { encodeH264, type EncodedFrame } from './media-files';
import { MediaPump } from './media-pump';

const COLOUR = '0x30A040';
const RGB = [0x30, 0xa0, 0x40];

/** RTCP feedback between Chromium (receiver) and an RtpPeer (sender): PLI and NACK → RTX. */
describe('RtpPeer feedback from Chromium', () => {
  let dir: string;
  let frames: EncodedFrame[];
  let browser: RtpTestPage | null = null;
  let peer: RtpPeer | null = null;
  let pump: MediaPump | null = null;
  const logLines: string[] = [];

  beforeAll(() => {
    setLogSink((line) => void logLines.push(line));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtp-fb-'));
    frames = encodeH264(dir, COLOUR, 4);
  });

  afterEach(async () => {
    pump?.stop();
    peer?.close();
    await browser?.close();
    browser = null;
  });

  afterAll(() => {
    shutdownRtpStack();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function connect(opts: {
    simulateVideoLoss?: (seq: number) => boolean;
  }): Promise<{ page: RtpTestPage['page']; tx: RtpPeer }> {
    const page = await openTestPage(dir, null);
    browser = page;
    const tx = await connectToView(page.page, logLines, (attempt) => {
      const candidate = new RtpPeer({
        id: `fb-${attempt}`,
        bindAddress: '127.0.0.1',
        videoCodecs: ['H264'],
        ...opts,
      });
      peer = candidate;
      return {
        peer: candidate,
        offer: () => candidate.createOffer({ video: 'sendonly', waitForCandidates: true }),
      };
    });
    return { page: page.page, tx };
  }

  it("surfaces Chromium's PLI as a keyframe request when the stream starts without a decodable keyframe", async () => {
    const { page, tx } = await connect({});
    const requests: KeyframeRequest[] = [];
    tx.on('keyframe-request', (r) => requests.push(r));
    // Join mid-GOP and claim the first delta frame is a keyframe: Chromium cannot decode it.
    const firstDelta = frames.findIndex((f, i) => i > 0 && !f.keyframe);
    pump = new MediaPump(tx, frames, [], { startAt: firstDelta, claimKeyframe: true });
    pump.start();
    await waitFor(
      async () => requests.filter((r) => r.reason === 'pli' || r.reason === 'fir').length,
      (n) => n > 0,
      'a PLI',
    );
    // The pump answers it by restarting at the keyframe: the picture appears.
    await waitFor(
      () => call(page, 'colour'),
      (c) => c !== null && c.every((x, i) => Math.abs(x - RGB[i]) < 30),
      'the picture',
    );
    const s = await call(page, 'stats');
    expect((s.video.pliCount ?? 0) + (s.video.firCount ?? 0)).toBeGreaterThan(0);
    expect(pump.keyframeRequests).toBeGreaterThan(0);
  });

  it('retransmits packets Chromium NACKs on the RTX stream, so the picture survives 4 % loss', async () => {
    // Deterministic loss: the first transmission of every 25th video packet is withheld.
    const { page, tx } = await connect({ simulateVideoLoss: (seq) => seq % 25 === 0 });
    pump = new MediaPump(tx, frames, []);
    pump.start();
    await waitFor(
      () => call(page, 'stats'),
      (x) =>
        (x.video.nackCount ?? 0) >= 3 &&
        (x.video.retransmittedPacketsReceived ?? 0) >= 3 &&
        (x.video.framesDecoded ?? 0) >= 30,
      'NACKs answered by retransmissions and 30 frames decoded',
    );
    const ours = { ...tx.getStats().video.send };
    await new Promise((r) => setTimeout(r, 500));
    const s = await call(page, 'stats');
    expect(ours.packetsDropped).toBeGreaterThan(0);
    expect(ours.nacksReceived).toBeGreaterThan(0);
    // Every withheld packet was NACKed and resent (the newest one may still be on its way)...
    expect(ours.packetsRetransmitted).toBeGreaterThanOrEqual((ours.packetsDropped ?? 0) - 1);
    // ...and arrived on the RTX stream. (Chromium's packetsLost counts the wire losses before
    // recovery, so it is not the figure to look at.)
    expect(s.video.retransmittedPacketsReceived).toBeGreaterThanOrEqual(ours.packetsRetransmitted ?? 0);
    expect(s.video.framesDropped ?? 0).toBe(0);
    const rgb = await call(page, 'colour');
    expect(rgb?.every((x, i) => Math.abs(x - RGB[i]) < 30)).toBe(true);
    // Chromium's receiver reports reached us: loss as seen after recovery, jitter, RTT.
    await waitFor(
      async () => peer?.getStats().video.send?.roundTripTimeMs ?? 0,
      (rtt) => rtt > 0,
      'an RTT from RR',
    );
  });
});
