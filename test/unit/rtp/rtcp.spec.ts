import {
  buildFir,
  buildNack,
  buildPli,
  buildReceiverReport,
  buildRemb,
  buildSenderReport,
  ntpFromUnixMs,
  parseRtcp,
} from '../../../workers/media/rtp/rtcp';

describe('RTCP builders and parser', () => {
  it('reads back a sender report with its SDES CNAME in one compound packet', () => {
    const ntp = ntpFromUnixMs(Date.UTC(2026, 0, 1, 12, 0, 0, 500));
    const sr = buildSenderReport(0x11223344, ntp, 0xfffffff0, 1000, 123456, 'mcu-abc');
    expect(sr.length % 4).toBe(0);
    const [p, sdes] = parseRtcp(sr);
    expect(p).toMatchObject({
      type: 'sr',
      ssrc: 0x11223344,
      rtpTimestamp: 0xfffffff0,
      packets: 1000,
      octets: 123456,
    });
    expect(p.type === 'sr' && p.ntpLsw).toBe(0x80000000); // .5 s
    expect(sdes).toMatchObject({ type: 'other', packetType: 202 });
  });

  it('reads back receiver report blocks with fraction lost and negative cumulative loss', () => {
    const rr = buildReceiverReport(7, [
      {
        ssrc: 9,
        fractionLost: 0.25,
        cumulativeLost: -3,
        highestSequence: 70000,
        jitter: 45,
        lastSr: 5,
        delaySinceLastSr: 6,
      },
    ]);
    const [p] = parseRtcp(rr);
    expect(p).toEqual({
      type: 'rr',
      ssrc: 7,
      reports: [
        {
          ssrc: 9,
          fractionLost: 0.25,
          cumulativeLost: -3,
          highestSequence: 70000,
          jitter: 45,
          lastSr: 5,
          delaySinceLastSr: 6,
        },
      ],
    });
  });

  it('packs NACKed sequence numbers into PID+BLP items across the 16-bit wrap', () => {
    const lost = [65534, 65535, 0, 5, 40];
    const [p] = parseRtcp(buildNack(1, 2, lost));
    expect(p).toEqual({ type: 'nack', senderSsrc: 1, mediaSsrc: 2, sequenceNumbers: lost });
  });

  it('builds PLI, FIR and REMB that parse back', () => {
    const compound = Buffer.concat([buildPli(1, 2), buildFir(1, 3, 9), buildRemb(1, 1_500_000, [2, 4])]);
    const [pli, fir, remb] = parseRtcp(compound);
    expect(pli).toEqual({ type: 'pli', senderSsrc: 1, mediaSsrc: 2 });
    expect(fir).toEqual({ type: 'fir', senderSsrc: 1, mediaSsrcs: [3] });
    expect(remb.type).toBe('remb');
    if (remb.type === 'remb') {
      expect(remb.ssrcs).toEqual([2, 4]);
      // 18-bit mantissa: exact to within one step of the exponent.
      expect(Math.abs(remb.bitrate - 1_500_000)).toBeLessThan(1_500_000 / 2 ** 17);
    }
  });

  it('ignores a truncated trailing packet', () => {
    const pli = buildPli(1, 2);
    expect(parseRtcp(Buffer.concat([pli, pli.subarray(0, 6)]))).toHaveLength(1);
  });
});
