import {
  answerDirection,
  chooseAudioCodec,
  chooseVideoCodec,
  isUsableH264,
  parseSdp,
  remoteSsrcs,
} from '../../../workers/media/rtp/sdp';

/** The shape of Debian Chromium's offer (trimmed): VP8 first, several H.264 profiles, RTX. */
const OFFER = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9',
  'a=mid:0',
  'a=sendrecv',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=rtpmap:9 G722/8000',
  'a=ssrc:11 cname:x',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 108 109',
  'a=mid:1',
  'a=sendonly',
  'a=rtpmap:96 VP8/90000',
  'a=rtcp-fb:96 nack',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rtpmap:102 H264/90000',
  'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
  'a=rtpmap:103 rtx/90000',
  'a=fmtp:103 apt=102',
  'a=rtpmap:108 H264/90000',
  'a=rtcp-fb:108 nack',
  'a=rtcp-fb:108 nack pli',
  'a=rtcp-fb:108 transport-cc',
  'a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=rtpmap:109 rtx/90000',
  'a=fmtp:109 apt=108',
  'a=ssrc-group:FID 1000 1001',
  'a=ssrc:1000 cname:x',
  'a=ssrc:1001 cname:x',
  '',
].join('\r\n');

describe('SDP reading and codec choice', () => {
  const [audio, video] = parseSdp(OFFER);

  it('reads m-lines, directions, codecs, feedback, RTX pairs and SSRC groups', () => {
    expect(audio).toMatchObject({ kind: 'audio', mid: '0', direction: 'sendrecv' });
    expect(video).toMatchObject({ kind: 'video', mid: '1', direction: 'sendonly' });
    expect(video.codecs.map((c) => c.name)).toEqual(['VP8', 'RTX', 'H264', 'RTX', 'H264', 'RTX']);
    expect(video.rtxFor.get(108)).toBe(109);
    expect(video.codecs.find((c) => c.payloadType === 108)?.feedback).toEqual([
      'nack',
      'nack pli',
      'transport-cc',
    ]);
    expect(remoteSsrcs(video)).toEqual({ media: 1000, rtx: 1001 });
  });

  it("follows the remote's order without a preference, and ours with one", () => {
    expect(chooseVideoCodec(video, null)?.name).toBe('VP8');
    const h264 = chooseVideoCodec(video, ['H264', 'VP8']);
    // Constrained baseline 42e01f is preferred over plain baseline 42001f.
    expect(h264).toMatchObject({ name: 'H264', rtxPayloadType: 109 });
    expect(h264?.codec.payloadType).toBe(108);
  });

  it('accepts only Baseline-family H.264 in packetization-mode 1', () => {
    const c = { payloadType: 1, name: 'H264', clockRate: 90000, channels: 1, feedback: [] };
    expect(isUsableH264({ ...c, fmtp: 'profile-level-id=42e01f;packetization-mode=1' })).toBe(true);
    expect(isUsableH264({ ...c, fmtp: 'profile-level-id=42e01f;packetization-mode=0' })).toBe(false);
    expect(isUsableH264({ ...c, fmtp: 'profile-level-id=640c1f;packetization-mode=1' })).toBe(false);
    expect(isUsableH264({ ...c, fmtp: 'profile-level-id=4d001f;packetization-mode=1' })).toBe(false);
  });

  it('picks Opus 48 kHz for audio, nothing when only other codecs are offered', () => {
    expect(chooseAudioCodec(audio)?.codec.payloadType).toBe(111);
    expect(chooseAudioCodec({ ...audio, codecs: audio.codecs.filter((c) => c.name !== 'OPUS') })).toBeNull();
    expect(
      chooseVideoCodec({ ...video, codecs: video.codecs.filter((c) => c.name === 'RTX') }, null),
    ).toBeNull();
  });

  it('answers each direction with its mirror, limited by what we do', () => {
    expect(answerDirection('sendrecv', true, true)).toBe('sendrecv');
    expect(answerDirection('sendonly', true, true)).toBe('recvonly');
    expect(answerDirection('recvonly', true, true)).toBe('sendonly');
    expect(answerDirection('sendrecv', false, true)).toBe('recvonly');
    expect(answerDirection('recvonly', false, true)).toBe('inactive');
  });
});
