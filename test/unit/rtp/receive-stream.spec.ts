import type { ReceivedFrame } from '../../../workers/media/rtp/frame-assembler';
import { RtpReceiveStream } from '../../../workers/media/rtp/receive-stream';
import { ntpFromUnixMs, unixMsFromNtp } from '../../../workers/media/rtp/rtcp';
import { emptyRtpHeader, parseRtpHeader, writeRtpHeader } from '../../../workers/media/rtp/rtp-packet';

/** An Opus stream as an RTP-level member receives one, with a clock the test moves. */
function opusStream(): {
  stream: RtpReceiveStream;
  frames: ReceivedFrame[];
  push(seq: number, ts: number): void;
} {
  let now = 1000;
  const frames: ReceivedFrame[] = [];
  const stream = new RtpReceiveStream(
    { codec: 'opus', payloadType: 111, rtxPayloadType: null, clockRate: 48000, nack: false, maxWaitMs: 60 },
    { onFrame: (f) => frames.push(f), sendNack: () => undefined, needKeyframe: () => undefined },
    { nowMs: () => now, wallMsAt: (t) => t },
  );
  const header = emptyRtpHeader();
  return {
    stream,
    frames,
    push(seq: number, ts: number): void {
      const packet = new Uint8Array(12 + 3);
      writeRtpHeader(packet, true, 111, seq, ts, 0x1234);
      packet.set([0xf8, 0xff, 0xfe], 12); // an Opus packet (a silent frame's TOC and bytes)
      parseRtpHeader(packet, header);
      now += 20;
      stream.push(packet, header);
    },
  };
}

describe('RtpReceiveStream: capture times on the sender clock (RTCP sender reports)', () => {
  it('reads NTP back to Unix milliseconds', () => {
    const ms = Date.UTC(2026, 11, 6, 10, 0, 0, 123.25);
    const ntp = ntpFromUnixMs(ms);
    expect(unixMsFromNtp(ntp.msw, ntp.lsw)).toBeCloseTo(ms, 3);
  });

  it('has no capture time before the first sender report, then maps each RTP timestamp by the last one', () => {
    const s = opusStream();
    s.push(1, 48000);
    expect(s.frames[0].captureMs).toBeNaN();
    const wall = Date.UTC(2026, 11, 6, 10, 0, 0, 0);
    const ntp = ntpFromUnixMs(wall);
    s.stream.onSenderReport(ntp.msw, ntp.lsw, 48960);
    s.push(2, 48960 + 960); // 20 ms after the report's timestamp
    s.push(3, 48960 + 1920);
    expect(s.frames[1].captureMs).toBeCloseTo(wall + 20, 3);
    expect(s.frames[2].captureMs).toBeCloseTo(wall + 40, 3);
    // A later report moves the mapping (the sender's clocks drift apart a little).
    s.stream.onSenderReport(ntp.msw + 1, ntp.lsw, 48960 + 48000 + 48);
    s.push(4, 48960 + 48000 + 48);
    expect(s.frames[3].captureMs).toBeCloseTo(wall + 1000, 3);
  });

  it('maps timestamps just before a report and across the 32-bit wrap', () => {
    const s = opusStream();
    const wall = Date.UTC(2026, 11, 6, 10, 0, 0, 0);
    const ntp = ntpFromUnixMs(wall);
    s.stream.onSenderReport(ntp.msw, ntp.lsw, 0xffffff00);
    s.push(1, 0xffffff00 - 480); // 10 ms before the report's timestamp
    s.push(2, 0x00000200); // 0x300 ticks after it, past the wrap
    expect(s.frames[0].captureMs).toBeCloseTo(wall - 10, 3);
    expect(s.frames[1].captureMs).toBeCloseTo(wall + (0x300 * 1000) / 48000, 3);
  });
});
