import { setLogSink } from '../../../workers/kernel/logger';
import { codecsAvailable } from '../../../workers/media/engine/codec/native-codec';
import { OpusDecoder } from '../../../workers/media/engine/codec/opus';
import { isAudioOnlyOffer } from '../../../workers/media/rtp-participant';
import { SharedMixEncoder } from '../../../workers/media/shared-mix-encoder';

setLogSink(() => undefined);
const describeCodecs = codecsAvailable().available ? describe : describe.skip;

function offer(sections: string[]): string {
  return ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', ...sections, ''].join('\r\n');
}
const AUDIO = 'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2';
const video = (port: number, direction: string) =>
  `m=video ${port} UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=${direction}\r\na=rtpmap:96 VP8/90000`;

describe('isAudioOnlyOffer', () => {
  it('takes Opus with no video in use, and leaves any live video section to the other paths', () => {
    expect(isAudioOnlyOffer(offer([AUDIO]))).toBe(true);
    expect(isAudioOnlyOffer(offer([AUDIO, video(0, 'sendrecv')]))).toBe(true);
    expect(isAudioOnlyOffer(offer([AUDIO, video(9, 'inactive')]))).toBe(true);
    expect(isAudioOnlyOffer(offer([AUDIO, video(9, 'sendrecv')]))).toBe(false);
    expect(isAudioOnlyOffer(offer([AUDIO, video(9, 'recvonly')]))).toBe(false);
    // Sends video (someone must decode it): not audio-only, whatever it receives.
    expect(isAudioOnlyOffer(offer([AUDIO, video(9, 'sendonly')]))).toBe(false);
    expect(isAudioOnlyOffer(offer([AUDIO.replace('opus', 'PCMU')]))).toBe(false);
    expect(isAudioOnlyOffer(offer([video(9, 'sendrecv')]))).toBe(false);
  });
});

describeCodecs('SharedMixEncoder', () => {
  it('encodes each 20 ms frame once however many listeners take it, and none nobody takes', () => {
    const shared = SharedMixEncoder.create();
    const decoder = OpusDecoder.create();
    if (!shared || !decoder) throw new Error('codec addon missing');
    const tick = new Int16Array(480);
    const out = new Int16Array(5760);
    let phase = 0;
    let heard = 0;
    for (let frame = 0; frame < 50; frame++) {
      for (let half = 0; half < 2; half++) {
        for (let i = 0; i < 480; i++)
          tick[i] = Math.round(8000 * Math.sin((phase += (2 * Math.PI * 440) / 48000)));
        shared.push(tick, half);
      }
      if (frame % 5 === 4) continue; // a frame every listener encoded for itself
      const a = shared.frame;
      const b = shared.frame; // a second listener: the same packet, no second encode
      expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
      expect(shared.used).toBe(true);
      const n = decoder.decode(a, out);
      expect(n).toBe(960);
      if (frame > 10) {
        let e = 0;
        for (let i = 0; i < n; i++) e += out[i] * out[i];
        heard += Math.sqrt(e / n);
      }
    }
    expect(shared.framesEncoded).toBe(40);
    // The decoded frames carry the mix (a 8000-peak sine: RMS ≈ 5660).
    expect(heard / 31).toBeGreaterThan(3000);
    shared.close();
    decoder.close();
  });
});
