import type { RtpClock } from '../../../workers/media/rtp/clock';
import { mediaTimestamp } from '../../../workers/media/rtp/clock';
import { H264Packetizer } from '../../../workers/media/rtp/h264-packetizer';
import { parseRtcp } from '../../../workers/media/rtp/rtcp';
import { emptyRtpHeader, parseRtpHeader } from '../../../workers/media/rtp/rtp-packet';
import { RtpSendStream } from '../../../workers/media/rtp/send-stream';
import { Vp8Packetizer } from '../../../workers/media/rtp/vp8-rtp';
import { reportBlock } from './report-block';

/** A clock the test moves by hand; wall time = 1.7e12 ms + monotonic. */
function fakeClock(): RtpClock & { t: number } {
  const c = { t: 1000, nowMs: () => c.t, wallMsAt: (m: number) => 1_700_000_000_000 + m };
  return c;
}

function stream(
  kind: 'audio' | 'video',
  clock: RtpClock,
  sent: Buffer[],
  drop: ((s: number) => boolean) | null = null,
) {
  return new RtpSendStream(
    {
      kind,
      ssrc: kind === 'video' ? 0xaaaa : 0xbbbb,
      payloadType: kind === 'video' ? 96 : 111,
      clockRate: kind === 'video' ? 90000 : 48000,
      cname: 'c',
      rtx: kind === 'video' ? { ssrc: 0xcccc, payloadType: 97 } : null,
      historySize: 256,
    },
    (p) => sent.push(Buffer.from(p)),
    clock,
    drop,
  );
}

const AU = Uint8Array.from([0, 0, 0, 1, 0x65, ...new Array(3000).fill(7)]);

describe('RtpSendStream', () => {
  it('numbers packets consecutively, marks the last packet of a frame and offsets the timestamp', () => {
    const clock = fakeClock();
    const sent: Buffer[] = [];
    const s = stream('video', clock, sent);
    s.sendPayloads(new H264Packetizer().packetize(AU), 9000, true);
    const h = sent.map((p) => {
      const x = emptyRtpHeader();
      parseRtpHeader(p, x);
      return x;
    });
    expect(h.length).toBe(3);
    expect(h.map((x) => (x.sequenceNumber - h[0].sequenceNumber) & 0xffff)).toEqual([0, 1, 2]);
    expect(h.map((x) => x.marker)).toEqual([false, false, true]);
    expect(new Set(h.map((x) => x.timestamp)).size).toBe(1);
    expect(s.stats).toMatchObject({ packetsSent: 3, framesSent: 1, keyframesSent: 1 });
  });

  it('answers a NACK on the RTX stream with the original sequence number in front (RFC 4588)', () => {
    const clock = fakeClock();
    const sent: Buffer[] = [];
    const dropped = new Set<number>();
    const s = stream('video', clock, sent, (seq) => {
      if (dropped.size > 0) return false;
      dropped.add(seq);
      return true;
    });
    s.sendPayloads(new H264Packetizer().packetize(AU), 9000, true);
    expect(sent.length).toBe(2); // the first packet was withheld
    const [lostSeq] = [...dropped];
    clock.t += 30;
    s.onNack([lostSeq]);
    const rtx = sent[2];
    const h = emptyRtpHeader();
    parseRtpHeader(rtx, h);
    expect(h.ssrc).toBe(0xcccc);
    expect(h.payloadType).toBe(97);
    expect(rtx.readUInt16BE(12)).toBe(lostSeq);
    expect(rtx[14] & 0x1f).toBe(28); // the FU-A payload follows
    expect(s.stats.packetsRetransmitted).toBe(1);
    s.onNack([lostSeq]); // repeated within 20 ms: not resent again
    expect(sent.length).toBe(3);
  });

  it('stamps audio and video sender reports from one clock, so both map "now" to the same instant', () => {
    const clock = fakeClock();
    const sentV: Buffer[] = [];
    const sentA: Buffer[] = [];
    const v = stream('video', clock, sentV);
    const a = stream('audio', clock, sentA);
    // A frame composed at t=1000 ms and the audio of the same instant.
    v.sendPayloads(new H264Packetizer().packetize(AU), mediaTimestamp(1000, 90000), true);
    a.sendPayload(Uint8Array.from([1, 2, 3]), mediaTimestamp(1000, 48000));
    const hv = emptyRtpHeader();
    const ha = emptyRtpHeader();
    parseRtpHeader(sentV[0], hv);
    parseRtpHeader(sentA[0], ha);
    clock.t = 1733; // reports 733 ms later
    const [srV] = parseRtcp(v.senderReport() as Buffer);
    const [srA] = parseRtcp(a.senderReport() as Buffer);
    if (srV.type !== 'sr' || srA.type !== 'sr') throw new Error('expected sender reports');
    expect(srV.ntpMsw).toBe(srA.ntpMsw);
    expect(srV.ntpLsw).toBe(srA.ntpLsw);
    // RTP time elapsed since the frames, per stream, is the same 733 ms.
    expect(((srV.rtpTimestamp - hv.timestamp) >>> 0) / 90).toBeCloseTo(733, 1);
    expect(((srA.rtpTimestamp - ha.timestamp) >>> 0) / 48).toBeCloseTo(733, 1);
  });

  it('computes the round-trip time from a report block (LSR/DLSR)', () => {
    const clock = fakeClock();
    const s = stream('video', clock, []);
    s.sendPayloads(new H264Packetizer().packetize(AU), 0, true);
    const [sr] = parseRtcp(s.senderReport() as Buffer);
    if (sr.type !== 'sr') throw new Error('expected a sender report');
    const lsr = (((sr.ntpMsw & 0xffff) << 16) | (sr.ntpLsw >>> 16)) >>> 0;
    clock.t += 150; // report arrives 150 ms later, of which the remote held it 100 ms
    s.onReportBlock({
      ssrc: 0xaaaa,
      fractionLost: 0.1,
      cumulativeLost: 4,
      highestSequence: 1,
      jitter: 900,
      lastSr: lsr,
      delaySinceLastSr: 6554,
    });
    expect(s.stats.roundTripTimeMs).toBeCloseTo(50, 0);
    expect(s.stats.jitterMs).toBeCloseTo(10, 5);
    expect(s.stats.fractionLost).toBeCloseTo(0.1, 5);
  });
  it('pads on the RTX stream at the probe rate, with packets the receiver drops as padding, until told to stop or the bound', () => {
    const clock = fakeClock();
    const sent: Buffer[] = [];
    const s = stream('video', clock, sent);
    s.sendPayloads(new H264Packetizer().packetize(AU), 9000, true);
    const media = sent.length;
    expect(s.startPadding(400, 2000)).toBe(true);
    for (let i = 0; i < 50; i++) {
      clock.t += 20;
      s.padTick();
    }
    const pads = sent.slice(media);
    // 1 s at 400 kbit/s = 50 000 bytes, in whole packets (the remainder is carried over).
    const bytes = pads.reduce((n, p) => n + p.length, 0);
    expect(bytes).toBeGreaterThan(50_000 - 300);
    expect(bytes).toBeLessThanOrEqual(50_000);
    const h = emptyRtpHeader();
    const seqs: number[] = [];
    for (const p of pads) {
      expect(parseRtpHeader(p, h)).toBe(true);
      expect(h.ssrc).toBe(0xcccc);
      expect(h.payloadType).toBe(97);
      expect(h.payloadLength).toBe(0); // padding only: libwebrtc's RTX receiver drops it
      expect(p[0] & 0x20).toBe(0x20);
      seqs.push(h.sequenceNumber);
    }
    expect(seqs.every((q, i) => i === 0 || q === ((seqs[i - 1] + 1) & 0xffff))).toBe(true);
    expect(s.stats.paddingBytesSent).toBe(bytes);
    expect(s.stats.bytesSent).toBeLessThan(3200); // padding is not media
    // The bound ends it by itself; stopPadding ends it at once.
    clock.t += 1000;
    s.padTick();
    expect(s.padding).toBe(false);
    const n = sent.length;
    s.startPadding(400, 2000);
    s.stopPadding();
    clock.t += 100;
    s.padTick();
    expect(sent.length).toBe(n);
    // With a ramp the rate rises from 0: the first half second of a 2 s ramp sends an eighth of the
    // full rate's 25 000 bytes (its mean fraction is 0.125), the last half second seven eighths.
    const ramped: Buffer[] = [];
    const r = stream('video', clock, ramped);
    r.startPadding(400, 3000, 2000);
    const bytesOver = (ms: number) => {
      const from = r.stats.paddingBytesSent;
      for (let t = 0; t < ms; t += 20) {
        clock.t += 20;
        r.padTick();
      }
      return r.stats.paddingBytesSent - from;
    };
    const first = bytesOver(500);
    bytesOver(1000);
    const last = bytesOver(500);
    expect(first).toBeGreaterThan(25_000 / 8 - 300);
    expect(first).toBeLessThan(25_000 / 8 + 300);
    expect(last).toBeGreaterThan((25_000 * 7) / 8 - 300);
    expect(last).toBeLessThan((25_000 * 7) / 8 + 300);
    // No RTX stream: no padding.
    const audio = stream('audio', clock, []);
    expect(audio.startPadding(100, 1000)).toBe(false);
  });

  it('stops a probe when media sent during it is NACKed, but not for losses from before it', () => {
    const clock = fakeClock();
    const sent: Buffer[] = [];
    const seqOf = (p: Buffer) => p.readUInt16BE(2);
    const s = stream('video', clock, sent);
    s.sendPayloads(new H264Packetizer().packetize(AU), 9000, true);
    const before = sent.map(seqOf);
    clock.t += 20;
    s.startPadding(300, 3000);
    // The receiver still asks for packets lost before the probe: the probe goes on.
    s.onNack(before);
    s.onNack(before);
    clock.t += 20;
    s.padTick();
    expect(s.padding).toBe(true);
    // Two frames during the probe, two of their packets lost: the link cannot carry the probe.
    const during: number[] = [];
    for (let f = 0; f < 2; f++) {
      const from = sent.length;
      s.sendPayloads(new H264Packetizer().packetize(AU), 9000 + 3000 * (f + 1), false);
      during.push(...sent.slice(from).map(seqOf));
    }
    s.onNack(during.slice(0, 1));
    expect(s.padding).toBe(true);
    s.onNack(during.slice(1, 2));
    expect(s.padding).toBe(false);
    expect(s.stats.paddingProbesAborted).toBe(1);
  });
  it("judges a probe by the remote's reports on its padding: pending until they cover a second at full rate, stopped by their loss", () => {
    const clock = fakeClock();
    const sent: Buffer[] = [];
    const s = stream('video', clock, sent);
    const rtxSeqs = () => sent.filter((p) => p.readUInt32BE(8) === 0xcccc).map((p) => p.readUInt16BE(2));
    /** The remote's report block on our RTX stream: its highest sequence and cumulative lost. */
    const report = (highest: number, lost: number) => s.onRtxReportBlock(reportBlock(0xcccc, lost, highest));
    const run = (ms: number) => {
      for (let t = 0; t < ms; t += 20) {
        clock.t += 20;
        s.padTick();
      }
    };
    // A link that carries it: not judged until a report covers a second of the full rate.
    s.startPadding(120, 5000, 2000);
    expect(s.stats.paddingProbePending).toBe(false); // no report on it yet: nothing to wait for
    run(500);
    report(rtxSeqs()[rtxSeqs().length - 1], 10);
    expect(s.stats.paddingProbePending).toBe(true);
    run(2200); // past the ramp's end and into the full rate
    report(rtxSeqs()[rtxSeqs().length - 1], 10);
    expect(s.stats.paddingProbePending).toBe(true);
    run(400);
    report(rtxSeqs()[rtxSeqs().length - 1], 10);
    expect(s.stats.paddingProbePending).toBe(false);
    expect(s.padding).toBe(true);
    s.stopPadding();

    // A link the full rate overfills: a third of what the last report covers is lost (a few
    // percent of the whole probe), and the probe stops.
    s.startPadding(120, 5000, 2000);
    run(300);
    report(rtxSeqs()[rtxSeqs().length - 1], 10);
    run(2200);
    const at = rtxSeqs()[rtxSeqs().length - 1];
    report(at, 11); // one lost: random loss, not a full link
    expect(s.padding).toBe(true);
    run(300);
    const last = rtxSeqs()[rtxSeqs().length - 1];
    expect(last - at).toBeGreaterThan(10);
    report(last, 11 + Math.ceil((last - at) / 3));
    expect(s.padding).toBe(false);
    expect(s.stats.paddingProbePending).toBe(false);
    expect(s.stats.paddingProbesAborted).toBe(1);
    expect(s.stats.rtxPacketsLost).toBe(11 + Math.ceil((last - at) / 3));
  });

  it("stops a probe when the remote's REMB falls below the highest it sent during the probe, not while it rises", () => {
    const clock = fakeClock();
    const s = stream('video', clock, []);
    s.sendPayloads(new H264Packetizer().packetize(AU), 9000, true);
    s.onRemb(300_000);
    s.startPadding(430, 3000, 2000);
    // The link carries more: the remote's estimate climbs, with the odd small dip.
    for (const remb of [310_000, 330_000, 320_000, 360_000]) s.onRemb(remb);
    expect(s.padding).toBe(true);
    // Its delay detector sees the queue grow: 0.85x what arrives.
    s.onRemb(300_000);
    expect(s.padding).toBe(false);
    expect(s.stats.paddingProbesAborted).toBe(1);
    expect(s.stats.rembBitrate).toBe(300_000);
    // Without a probe running a falling REMB is only recorded.
    s.onRemb(200_000);
    expect(s.stats.paddingProbesAborted).toBe(1);
  });

  it('answers a repeated NACK once per round trip, not every time the client asks', () => {
    const clock = fakeClock();
    const sent: Buffer[] = [];
    const lost: number[] = [];
    const s = stream('video', clock, sent, (seq) => lost.push(seq) > 0);
    s.sendPayloads(new H264Packetizer().packetize(AU), 9000, true);
    s.stats.roundTripTimeMs = 150;
    const resent = () => sent.length;
    s.onNack(lost);
    expect(resent()).toBe(lost.length);
    clock.t += 100; // inside the round trip: the answers may still be on their way
    s.onNack(lost);
    expect(resent()).toBe(lost.length);
    clock.t += 60;
    s.onNack(lost);
    expect(resent()).toBe(2 * lost.length);
  });

  it('retransmits at most a burst and then half the media rate, however many packets are NACKed', () => {
    const clock = fakeClock();
    const sent: Buffer[] = [];
    const lost: number[] = [];
    const s = stream('video', clock, sent, (seq) => lost.push(seq) > 0);
    const bytes = (from: number) => sent.slice(from).reduce((b, p) => b + p.length, 0);
    for (let i = 0; i < 12; i++) s.sendPayloads(new H264Packetizer().packetize(AU), 9000 + 3000 * i, i === 0);
    expect(s.stats.bytesSent).toBeGreaterThan(30_000);
    s.onNack(lost);
    // The 24 kB burst (one packet more at most), not the 36 kB lost.
    expect(bytes(0)).toBeGreaterThan(24_000 - 1200);
    expect(bytes(0)).toBeLessThan(24_000 + 1200);
    expect(s.stats.retransmissionsLimited).toBeGreaterThan(0);
    // Asked again: nothing, until media refills it at half its rate.
    clock.t += 30;
    const before = sent.length;
    s.onNack(lost);
    expect(sent.length).toBe(before);
    const media = s.stats.bytesSent;
    lost.length = 0;
    s.sendPayloads(new H264Packetizer().packetize(AU), 9000 + 3000 * 12, false);
    s.sendPayloads(new H264Packetizer().packetize(AU), 9000 + 3000 * 13, false);
    const refill = (s.stats.bytesSent - media) / 2;
    clock.t += 30;
    s.onNack(lost);
    expect(bytes(before)).toBeGreaterThan(0);
    expect(bytes(before)).toBeLessThan(refill + 1200);
  });
  it('does not retransmit packets from before the last keyframe (the receiver decodes on from it)', () => {
    const clock = fakeClock();
    const sent: Buffer[] = [];
    const lost: number[][] = [[], [], []];
    let frame = 0;
    const s = stream('video', clock, sent, (seq) => lost[frame].push(seq) > 0);
    for (frame = 0; frame < 3; frame++) {
      s.sendPayloads(new H264Packetizer().packetize(AU), 9000 + 3000 * frame, frame !== 1);
      clock.t += 33;
    }
    s.onNack([...lost[0], ...lost[1]]); // the first keyframe and the delta after it: superseded
    expect(sent.length).toBe(0);
    s.onNack(lost[2]); // the new keyframe: resent
    expect(sent.map((p) => p.readUInt16BE(12))).toEqual(lost[2]);
  });
  it('numbers VP8 picture IDs per stream: consecutive across a switch between two encoders', () => {
    const clock = fakeClock();
    const sent: Buffer[] = [];
    const s = new RtpSendStream(
      {
        kind: 'video',
        ssrc: 1,
        payloadType: 98,
        clockRate: 90000,
        cname: 'c',
        rtx: { ssrc: 2, payloadType: 99 },
        historySize: 256,
        vp8PictureIds: true,
      },
      (p) => sent.push(Buffer.from(p)),
      clock,
    );
    // Two encoders' packetizers, their picture IDs far apart (0x7ff0 wraps within this test).
    const standard = new Vp8Packetizer(1200, 0x7ff0);
    const low = new Vp8Packetizer(1200, 0x1234);
    const frame = new Uint8Array(2500).fill(1);
    for (let i = 0; i < 3; i++) s.sendPayloads(standard.packetize(frame), 3000 * i, i === 0);
    for (let i = 3; i < 6; i++) s.sendPayloads(low.packetize(frame), 3000 * i, i === 3);
    const h = emptyRtpHeader();
    const pids = sent.map((p) => {
      parseRtpHeader(p, h);
      const d = p.subarray(h.payloadOffset);
      expect(d[2] & 0x80).toBe(0x80); // still the 15-bit form
      return ((d[2] & 0x7f) << 8) | d[3];
    });
    // Three packets a frame; one ID per frame, each frame's one more than the last, mod 2^15.
    const perFrame = pids.filter((_, i) => i % 3 === 0);
    expect(pids.length).toBe(18);
    for (let f = 0; f < 6; f++) expect(new Set(pids.slice(3 * f, 3 * f + 3)).size).toBe(1);
    for (let f = 1; f < 6; f++) expect(perFrame[f]).toBe((perFrame[f - 1] + 1) & 0x7fff);
    // The payload itself is untouched (the encoders' lists are shared by every receiver).
    expect(low.packetize(frame).payload(0)[3]).toBe((0x1234 + 3) & 0xff);
  });
});
