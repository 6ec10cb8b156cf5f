import { offerReceivesVideo } from '../../../workers/kernel/sdp-media';

const head = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
const audio = 'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=sendrecv\r\n';
const video = (port: number, dir: string) =>
  `m=video ${port} UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=${dir}\r\n`;

describe('offerReceivesVideo', () => {
  it('is true for a video section we may send into (sendrecv or recvonly)', () => {
    expect(offerReceivesVideo(head + audio + video(9, 'sendrecv'))).toBe(true);
    expect(offerReceivesVideo(head + audio + video(9, 'recvonly'))).toBe(true);
  });

  it('is false for audio only, a rejected (port 0) video section, or one that only sends or is inactive', () => {
    expect(offerReceivesVideo(head + audio)).toBe(false);
    expect(offerReceivesVideo(head + audio + video(0, 'sendrecv'))).toBe(false);
    expect(offerReceivesVideo(head + audio + video(9, 'sendonly'))).toBe(false);
    expect(offerReceivesVideo(head + audio + video(9, 'inactive'))).toBe(false);
  });
});
