import type * as ndc from 'node-datachannel';
import { Logger, setLogSink } from '../../../workers/media/rtp/log';
import type { RtpClock } from '../../../workers/media/rtp/clock';
import { RtpMediaLine, type MediaLineContext } from '../../../workers/media/rtp/rtp-media-line';
import { buildNack, buildPli, buildReceiverReport, buildRemb } from '../../../workers/media/rtp/rtcp';
import { Vp8Packetizer } from '../../../workers/media/rtp/vp8-rtp';
import { reportBlock } from './report-block';

/** A video line we send VP8 on (with RTX) and receive on: a sendrecv client's m-line. */
function videoLine(): { line: RtpMediaLine; clock: RtpClock & { t: number }; keyframeRequests: string[] } {
  const clock = { t: 1000, nowMs: () => clock.t, wallMsAt: (m: number) => 1_700_000_000_000 + m };
  const keyframeRequests: string[] = [];
  const ctx: MediaLineContext = {
    clock,
    cname: 'test',
    feedbackSsrc: 7,
    maxIncomingVideoBitrate: 2_000_000,
    log: new Logger('test'),
    simulateVideoLoss: null,
    simulateIncomingVideoLoss: null,
    onVideoFrame: () => {},
    onAudioPacket: () => {},
    onKeyframeRequest: (reason) => keyframeRequests.push(reason),
    needKeyframe: () => {},
  };
  // What the line uses of its track: it is open and takes what we send.
  const track = { isOpen: () => true, sendMessageBinary: () => true } as unknown as ndc.Track;
  const line = new RtpMediaLine('video', '1', 'sendrecv', { media: 1111, rtx: 2222 }, track, ctx);
  line.negotiate(
    {
      codec: {
        payloadType: 96,
        name: 'VP8',
        clockRate: 90000,
        channels: 1,
        fmtp: '',
        feedback: ['nack', 'nack pli'],
      },
      name: 'VP8',
      rtxPayloadType: 97,
    },
    'sendrecv',
    [3333],
  );
  return { line, clock, keyframeRequests };
}

describe('RtpMediaLine RTCP', () => {
  beforeAll(() => setLogSink(() => {}));

  it('handles a compound once when libdatachannel delivers it twice (once per SSRC of it the line owns)', () => {
    const { line, clock, keyframeRequests } = videoLine();
    const send = line.send;
    if (!send || !line.packetizer) throw new Error('no send stream');
    send.sendPayloads(new Vp8Packetizer().packetize(Buffer.alloc(3000, 1)), 0, true);
    // The client's NACK names its own SSRC (3333, received on this line) and ours (1111).
    const nack = buildNack(3333, 1111, [1, 2]);
    line.onMessage(nack);
    line.onMessage(Buffer.from(nack)); // the same bytes, a new buffer, within the millisecond
    expect(send.stats.nacksReceived).toBe(1);
    const pli = buildPli(3333, 1111);
    line.onMessage(pli);
    line.onMessage(Buffer.from(pli));
    expect(keyframeRequests).toEqual(['pli']);
    // The client asking again a round trip later is a new request.
    clock.t += 100;
    line.onMessage(Buffer.from(pli));
    line.onMessage(Buffer.from(nack));
    expect(keyframeRequests).toEqual(['pli', 'pli']);
    expect(send.stats.nacksReceived).toBe(2);
  });

  it('takes a REMB that names only our RTX stream (a padding probe while no video is sent)', () => {
    const { line } = videoLine();
    const send = line.send;
    if (!send) throw new Error('no send stream');
    line.onMessage(buildRemb(3333, 500_000, [1111]));
    expect(send.stats.rembBitrate).toBe(500_000);
    // Served `audio`: the remote's estimator has seen the padding on 2222 alone.
    line.onMessage(buildRemb(3333, 180_000, [2222]));
    expect(send.stats.rembBitrate).toBe(180_000);
    // Another stream's estimate is not ours.
    line.onMessage(buildRemb(3333, 90_000, [4444]));
    expect(send.stats.rembBitrate).toBe(180_000);
  });

  it("hands the remote's report on our RTX stream (the padding's own loss) to the send stream, apart from the media's", () => {
    const { line } = videoLine();
    const send = line.send;
    if (!send) throw new Error('no send stream');
    line.onMessage(buildReceiverReport(3333, [reportBlock(1111, 4, 70_000), reportBlock(2222, 9, 70_500)]));
    expect(send.stats.packetsLost).toBe(4);
    expect(send.stats.highestSequence).toBe(70_000);
    expect(send.stats.rtxPacketsLost).toBe(9);
    expect(send.stats.rtxHighestSequence).toBe(70_500);
  });
});
