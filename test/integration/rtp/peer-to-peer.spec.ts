import { setLogSink } from '../../../workers/media/rtp/log';
import {
  mediaTimestamp,
  RtpPeer,
  rtpStackStats,
  shutdownRtpStack,
  systemRtpClock,
  UnsupportedOfferError,
  type ReceivedVideoFrame,
  type VideoCodecName,
} from '../../../workers/media/rtp';

/** Deterministic "encoded" frames: a first keyframe, then deltas, of varied sizes. */
function frame(codec: VideoCodecName, i: number): Uint8Array {
  const size = 200 + ((i * 977) % 4000);
  const body = Uint8Array.from({ length: size }, (_, k) => (k * 31 + i) & 0xff || 1);
  if (codec === 'VP8') {
    body[0] = i === 0 ? 0x10 : 0x11; // P bit: key / delta
    return body;
  }
  body[0] = i === 0 ? 0x65 : 0x41; // NAL header: IDR / non-IDR slice
  // No 00 00 01 inside a NAL (emulation prevention): keep bytes non-zero.
  return Uint8Array.from([0, 0, 0, 1, ...body]);
}

async function until(cond: () => boolean, what: string, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Two RtpPeers over loopback (real libdatachannel ICE/DTLS/SRTP): the server-written offer path. */
describe('RtpPeer to RtpPeer', () => {
  const peers: RtpPeer[] = [];
  const logLines: string[] = [];
  beforeAll(() => setLogSink((line) => logLines.push(line)));
  afterAll(() => {
    peers.forEach((p) => p.close());
    shutdownRtpStack();
  });

  /**
   * Two connected peers. libdatachannel's DTLS handshake between two of its own peers on loopback
   * fails at once now and then (docs/rtp-stack.md, "Known issues"): the state goes to `failed`
   * with "DTLS handshake failed" logged, and a caller negotiates again. One new pair is allowed
   * for that logged failure only; anything else, or a second failure, fails the test.
   */
  async function pair(codec: VideoCodecName, trickle: boolean): Promise<[RtpPeer, RtpPeer]> {
    for (let attempt = 1; ; attempt++) {
      logLines.length = 0;
      const a = new RtpPeer({
        id: `a-${codec}-${attempt}`,
        bindAddress: '127.0.0.1',
        videoCodecs: [codec],
        announcedAddress: trickle ? undefined : '127.0.0.1',
      });
      const b = new RtpPeer({ id: `b-${codec}-${attempt}`, bindAddress: '127.0.0.1' });
      peers.push(a, b);
      if (trickle) {
        a.on('candidate', (c) => b.addRemoteCandidate(c.candidate, c.mid));
        b.on('candidate', (c) => a.addRemoteCandidate(c.candidate, c.mid));
      }
      const offer = await a.createOffer({
        video: 'sendonly',
        audio: 'sendonly',
        waitForCandidates: !trickle,
      });
      a.acceptAnswer(await b.acceptOffer(offer, { waitForCandidates: !trickle }));
      const ended = (p: RtpPeer) => p.connectionState === 'failed' || p.connectionState === 'closed';
      await until(
        () =>
          (a.connectionState === 'connected' && b.connectionState === 'connected') || ended(a) || ended(b),
        'both peers to connect',
      ).catch((err: Error) => {
        throw new Error(
          `${err.message} (${a.connectionState}/${b.connectionState}):\n${logLines.join('\n')}`,
        );
      });
      if (!ended(a) && !ended(b)) return [a, b];
      const states = `${a.connectionState}/${b.connectionState}`;
      if (attempt === 2 || !logLines.some((l) => l.includes('DTLS handshake failed')))
        throw new Error(`the peers ended ${states}:\n${logLines.join('\n')}`);
      process.stderr.write(`[peer-to-peer] DTLS handshake failed (known issue); a new pair\n`);
      a.close();
      b.close();
    }
  }

  it.each<[VideoCodecName, boolean]>([
    ['H264', true],
    ['VP8', false],
  ])('%s frames and Opus packets arrive byte for byte (trickle ICE: %s)', async (codec, trickle) => {
    const [a, b] = await pair(codec, trickle);
    expect(a.videoCodec).toBe(codec);
    expect(b.videoCodec).toBe(codec);
    const got: ReceivedVideoFrame[] = [];
    const audio: Uint8Array[] = [];
    b.on('video-frame', (f) => got.push(f));
    b.on('audio-packet', (p) => audio.push(p.data));
    const t0 = systemRtpClock.nowMs();
    for (let i = 0; i < 20; i++) {
      const t = t0 + (i * 1000) / 15;
      expect(a.sendVideoFrame(frame(codec, i), mediaTimestamp(t, 90000), i === 0)).toBe(true);
      a.sendAudio(Uint8Array.from([0xfc, i, i + 1]), mediaTimestamp(t, 48000));
      await new Promise((r) => setTimeout(r, 10));
    }
    await until(() => got.length === 20 && audio.length === 20, '20 frames and 20 audio packets');
    got.forEach((f, i) => {
      expect(f.codec).toBe(codec);
      expect(f.keyframe).toBe(i === 0);
      expect(Buffer.from(f.data).equals(Buffer.from(frame(codec, i)))).toBe(true);
    });
    // Timestamps keep the sender's spacing (each stream adds its own random offset).
    expect(((got[19].rtpTimestamp - got[0].rtpTimestamp) >>> 0) / 90).toBeCloseTo((19 * 1000) / 15, -1);
    expect(audio.map((p) => p[1])).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const stats = b.getStats().video.receive;
    expect(stats).toMatchObject({ framesReceived: 20, keyframesReceived: 1, framesDiscarded: 0 });
  });

  it('holds delta frames back until a keyframe and asks the encoder for one', async () => {
    const [a, b] = await pair('H264', true);
    const requests: string[] = [];
    a.on('keyframe-request', (r) => requests.push(r.reason));
    let frames = 0;
    b.on('video-frame', () => frames++);
    expect(a.sendVideoFrame(frame('H264', 1), 0, false)).toBe(false);
    expect(requests).toEqual(['start']);
    expect(a.sendVideoFrame(frame('H264', 0), 3000, true)).toBe(true);
    await until(() => frames === 1, 'the keyframe');
  });

  it('rejects an offer with no codec it can handle', async () => {
    const vp9Only = [
      'v=0',
      'o=- 1 2 IN IP4 127.0.0.1',
      's=-',
      't=0 0',
      'm=video 9 UDP/TLS/RTP/SAVPF 98',
      'a=mid:0',
      'a=sendrecv',
      'a=rtpmap:98 VP9/90000',
      'a=ice-ufrag:abcd',
      'a=ice-pwd:abcdefghijklmnopqrstuvwx',
      'a=fingerprint:sha-256 00:11',
      'a=setup:actpass',
      '',
    ].join('\r\n');
    const p = new RtpPeer({ id: 'vp9', bindAddress: '127.0.0.1' });
    peers.push(p);
    await expect(p.acceptOffer(vp9Only)).rejects.toBeInstanceOf(UnsupportedOfferError);
  });

  it('shares one libdatachannel thread pool across peers', () => {
    const s = rtpStackStats();
    expect(s.peers).toBeGreaterThanOrEqual(6);
    expect(s.threads).toBeGreaterThan(0);
  });
});
