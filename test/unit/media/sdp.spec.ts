import { InvalidSdpError, PayloadTooLargeError } from '../../../src/common/errors';
import { validateSdp, withVideoBandwidth } from '../../../workers/media/sdp';

const SDP = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=mid:0',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'c=IN IP4 0.0.0.0',
  'b=AS:5000',
  'a=mid:1',
  '',
].join('\r\n');

describe('validateSdp', () => {
  it('accepts an SDP with media sections', () => {
    expect(validateSdp(SDP, 65536)).toBe(SDP);
  });
  it.each([[''], ['hello'], [42], ['v=0\r\ns=-\r\n']])('rejects %p as invalid', (sdp) => {
    expect(() => validateSdp(sdp, 65536)).toThrow(InvalidSdpError);
  });
  it('rejects an oversized SDP before parsing it', () => {
    expect(() => validateSdp(SDP, 10)).toThrow(PayloadTooLargeError);
  });
});

describe('withVideoBandwidth', () => {
  it('puts b=AS and b=TIAS after the video c= line, replacing what was there, and leaves audio alone', () => {
    const out = withVideoBandwidth(SDP, 120).split('\r\n');
    const video = out.slice(out.findIndex((l) => l.startsWith('m=video')));
    expect(video.slice(0, 4)).toEqual([
      'm=video 9 UDP/TLS/RTP/SAVPF 96',
      'c=IN IP4 0.0.0.0',
      'b=AS:120',
      'b=TIAS:120000',
    ]);
    expect(out.filter((l) => l.startsWith('b='))).toEqual(['b=AS:120', 'b=TIAS:120000']);
  });
});
