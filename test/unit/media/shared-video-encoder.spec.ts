import { setLogSink } from '../../../workers/kernel/logger';
import { Logger } from '../../../workers/kernel/logger';
import { codecsAvailable } from '../../../workers/media/engine/codec/native-codec';
import { NAL_IDR } from '../../../workers/media/engine/codec/h264-nal';
import { createI420, fillI420, rgbToYuv } from '../../../workers/media/engine/video/i420';
import type { PayloadList, RtpPeer } from '../../../workers/media/rtp';
import {
  isH264OnlyOffer,
  offersVp8,
  toLibdatachannelIceServers,
} from '../../../workers/media/rtp-participant';
import { KEYFRAME_MIN_INTERVAL_MS, SharedVideoEncoder } from '../../../workers/media/shared-video-encoder';
import { OUTPUT_PROFILES } from '../../../workers/protocol/media';

setLogSink(() => undefined);
const describeCodecs = codecsAvailable().available ? describe : describe.skip;

/** A receiver as the encoder sees one: it records the RTP payloads handed to it (copies). */
class RecordingReceiver {
  frames: Array<{ payloads: Buffer[]; timestamp: number; keyframe: boolean }> = [];
  sendVideoPayloads(payloads: PayloadList, timestamp: number, keyframe: boolean): boolean {
    const copies: Buffer[] = [];
    for (let i = 0; i < payloads.count; i++) copies.push(Buffer.from(payloads.payload(i)));
    this.frames.push({ payloads: copies, timestamp, keyframe });
    return true;
  }
  asPeer(): RtpPeer {
    return this as unknown as RtpPeer;
  }
}

/** NAL unit types in one RTP payload (RFC 6184: single NAL, STAP-A = 24, FU-A = 28). */
function nalTypesOf(p: Buffer): number[] {
  const type = p[0] & 0x1f;
  if (type === 28) return [p[1] & 0x1f];
  if (type !== 24) return [type];
  const out: number[] = [];
  for (let at = 1; at + 2 < p.length;) {
    const size = p.readUInt16BE(at);
    out.push(p[at + 2] & 0x1f);
    at += 2 + size;
  }
  return out;
}

describeCodecs('SharedVideoEncoder (one H.264 encode per profile for every receiver)', () => {
  const profile = OUTPUT_PROFILES.low;
  const frame = createI420(profile.width, profile.height);
  fillI420(frame, rgbToYuv({ r: 40, g: 200, b: 60 }));
  const frameMs = 1000 / profile.fps;

  it('hands every receiver the same payloads and timestamps, starting with a keyframe', async () => {
    const enc = SharedVideoEncoder.create(profile, 'h264', new Logger('test'))!;
    const a = new RecordingReceiver();
    const b = new RecordingReceiver();
    enc.attach(a.asPeer(), 1000);
    enc.attach(b.asPeer(), 1000);
    for (let i = 0; i < 10; i++) {
      enc.encode(frame, 1000 + i * frameMs);
      await enc.idle();
    }
    enc.close();
    expect(a.frames.length).toBe(10);
    expect(b.frames).toEqual(a.frames);
    expect(a.frames[0].keyframe).toBe(true);
    // The RTP timestamps follow the tick times at 90 kHz.
    expect(a.frames[1].timestamp - a.frames[0].timestamp).toBe(6000);
    expect(enc.stats()).toMatchObject({ codec: 'h264', profile: 'low', framesEncoded: 10 });
  });

  it('turns a storm of keyframe requests into at most one keyframe per 500 ms, deferring rather than dropping', async () => {
    const enc = SharedVideoEncoder.create(profile, 'h264', new Logger('test'))!;
    const rx = new RecordingReceiver();
    enc.attach(rx.asPeer(), 1000); // the test's own clock, like the frames below
    const frames = 45; // 3 s at 15 fps
    for (let i = 0; i < frames; i++) {
      const now = 1000 + i * frameMs;
      enc.requestKeyframe(now); // a PLI with every frame
      enc.encode(frame, now);
      await enc.idle();
    }
    enc.close();
    const keyTimes = rx.frames.filter((f) => f.keyframe).map((f) => f.timestamp / 90);
    const durationMs = (frames - 1) * frameMs;
    expect(keyTimes.length).toBeLessThanOrEqual(Math.floor(durationMs / KEYFRAME_MIN_INTERVAL_MS) + 1);
    expect(keyTimes.length).toBeGreaterThanOrEqual(Math.floor(durationMs / KEYFRAME_MIN_INTERVAL_MS));
    for (let i = 1; i < keyTimes.length; i++)
      expect(keyTimes[i] - keyTimes[i - 1]).toBeGreaterThanOrEqual(KEYFRAME_MIN_INTERVAL_MS - 1);
    expect(enc.stats().keyframeRequests).toBe(frames + 1); // + the attach
    // Each frame flagged as a keyframe carries an IDR (single NAL, inside a STAP-A, or FU-A).
    for (const f of rx.frames.filter((x) => x.keyframe))
      expect(f.payloads.flatMap(nalTypesOf)).toContain(NAL_IDR);
  });

  it('stops sending to a receiver that detached; the others carry on', async () => {
    const enc = SharedVideoEncoder.create(profile, 'h264', new Logger('test'))!;
    const a = new RecordingReceiver();
    const b = new RecordingReceiver();
    enc.attach(a.asPeer(), 1000);
    enc.attach(b.asPeer(), 1000);
    for (let i = 0; i < 6; i++) {
      if (i === 3) enc.detach(a.asPeer());
      enc.encode(frame, 1000 + i * frameMs);
      await enc.idle();
    }
    enc.close();
    expect(a.frames.length).toBe(3);
    expect(b.frames.length).toBe(6);
    expect(enc.stats().receivers).toBe(0);
  });
});

/** VP8 payload descriptor (RFC 7741 §4.2) length, and whether a packet starts a keyframe. */
function vp8Starts(p: Buffer): { start: boolean; keyframe: boolean } {
  let at = 1;
  if (p[0] & 0x80) {
    const x = p[1];
    at = 2;
    if (x & 0x80) at += p[at] & 0x80 ? 2 : 1; // I: picture ID, 7 or 15 bits
    if (x & 0x40) at += 1; // L
    if (x & 0x30) at += 1; // T or K
  }
  const start = (p[0] & 0x10) !== 0;
  // The VP8 payload header's P bit (RFC 6386 §9.1) is 0 on a keyframe.
  return { start, keyframe: start && (p[at] & 0x01) === 0 };
}

describeCodecs('SharedVideoEncoder in VP8 (VIDEO_ENCODE=shared)', () => {
  const profile = OUTPUT_PROFILES.low;
  const frame = createI420(profile.width, profile.height);
  fillI420(frame, rgbToYuv({ r: 220, g: 30, b: 30 }));
  const frameMs = 1000 / profile.fps;

  it('a receiver switching in is started at its keyframe: onStart runs right before that keyframe reaches it, once', async () => {
    const enc = SharedVideoEncoder.create(profile, 'vp8', new Logger('test'))!;
    const a = new RecordingReceiver();
    const b = new RecordingReceiver();
    enc.attach(a.asPeer(), 1000);
    const starts: number[] = [];
    // b attaches 100 ms after a's keyframe: its keyframe waits for the 500 ms throttle.
    for (let i = 0; i < 30; i++) {
      const now = 1000 + i * frameMs;
      if (i === 3) enc.attach(b.asPeer(), now, () => starts.push(b.frames.length));
      enc.encode(frame, now);
      await enc.idle();
    }
    enc.close();
    expect(starts).toEqual([0]); // once, before b got anything
    expect(b.frames[0].keyframe).toBe(true);
    // b's keyframe is the stream's next one, within the throttle of a's first; a got every frame.
    const at = a.frames.findIndex((f) => f.timestamp === b.frames[0].timestamp);
    expect(at).toBeGreaterThan(3);
    expect(a.frames[at].keyframe).toBe(true);
    expect(at * frameMs).toBeLessThanOrEqual(KEYFRAME_MIN_INTERVAL_MS + frameMs);
    expect(b.frames).toEqual(a.frames.slice(at));
    expect(a.frames.length).toBe(30);
  });

  it('hands every receiver the same VP8 payloads, a keyframe first and on request within the throttle', async () => {
    const enc = SharedVideoEncoder.create(profile, 'vp8', new Logger('test'))!;
    const a = new RecordingReceiver();
    const b = new RecordingReceiver();
    enc.attach(a.asPeer(), 1000);
    enc.attach(b.asPeer(), 1000);
    const frames = 30;
    for (let i = 0; i < frames; i++) {
      const now = 1000 + i * frameMs;
      if (i === 20) enc.requestKeyframe(now); // 1.33 s after the first: past the throttle
      enc.encode(frame, now);
      await enc.idle();
    }
    enc.close();
    expect(a.frames.length).toBe(frames);
    expect(b.frames).toEqual(a.frames);
    const starts = a.frames.map((f) => vp8Starts(f.payloads[0]));
    expect(starts.every((x) => x.start)).toBe(true);
    // What the encoder flags as a keyframe is one in the bitstream, and the only ones are the
    // first frame (both receivers attached before it: one keyframe serves both) and the
    // requested one (the periodic floor is 5 s away).
    expect(starts.map((x) => x.keyframe)).toEqual(a.frames.map((f) => f.keyframe));
    expect(a.frames.flatMap((f, i) => (f.keyframe ? [i] : []))).toEqual([0, 20]);
    expect(a.frames[1].timestamp - a.frames[0].timestamp).toBe(6000);
    expect(enc.stats()).toMatchObject({ codec: 'vp8', profile: 'low', framesEncoded: frames, keyframes: 2 });
  });

  it('holds each frame until its tick plus holdMs (DOWNLINK_VIDEO_HOLD_MS), then sends it unchanged and in order', async () => {
    const holdMs = 400;
    const held = SharedVideoEncoder.create(profile, 'vp8', new Logger('test'), holdMs)!;
    const direct = SharedVideoEncoder.create(profile, 'vp8', new Logger('test'))!;
    const rxHeld = new RecordingReceiver();
    const rxDirect = new RecordingReceiver();
    const sentAt: number[] = [];
    const record = rxHeld.sendVideoPayloads.bind(rxHeld);
    rxHeld.sendVideoPayloads = (payloads, timestamp, keyframe) => {
      sentAt.push(performance.now());
      return record(payloads, timestamp, keyframe);
    };
    const t0 = performance.now();
    held.attach(rxHeld.asPeer(), t0);
    direct.attach(rxDirect.asPeer(), t0);
    const ticks: number[] = [];
    for (let i = 0; i < 4; i++) {
      // Ticks 10 ms apart, all encoded well inside the hold: the held ring fills and empties in order.
      const tick = t0 + i * 10;
      ticks.push(tick);
      held.encode(frame, tick);
      direct.encode(frame, tick);
      while (held.stats().framesEncoded < i + 1 || direct.stats().framesEncoded < i + 1)
        await new Promise((r) => setTimeout(r, 1));
    }
    // Encoding 4 small frames takes a few ms: nothing has left the held encoder yet.
    expect(performance.now() - t0).toBeLessThan(holdMs);
    expect(rxHeld.frames.length).toBe(0);
    expect(rxDirect.frames.length).toBe(4);
    await held.idle();
    held.close();
    direct.close();
    // Same payloads and RTP timestamps as without the hold (the picture IDs start at random).
    expect(rxHeld.frames.map((f) => [f.timestamp, f.keyframe, f.payloads.map((p) => p.subarray(4))])).toEqual(
      rxDirect.frames.map((f) => [f.timestamp, f.keyframe, f.payloads.map((p) => p.subarray(4))]),
    );
    for (let i = 0; i < 4; i++) expect(sentAt[i]).toBeGreaterThanOrEqual(ticks[i] + holdMs);
  });
});

describe('choosing the RTP-level path from an offer', () => {
  const offer = (videoCodecs: string[]): string =>
    [
      'v=0',
      'o=- 1 2 IN IP4 127.0.0.1',
      's=-',
      't=0 0',
      'm=audio 9 UDP/TLS/RTP/SAVPF 111',
      'a=mid:0',
      'a=rtpmap:111 opus/48000/2',
      `m=video 9 UDP/TLS/RTP/SAVPF ${videoCodecs.map((_, i) => 96 + i).join(' ')}`,
      'a=mid:1',
      ...videoCodecs.flatMap((c, i) => {
        const pt = 96 + i;
        if (c === 'H264')
          return [
            `a=rtpmap:${pt} H264/90000`,
            `a=fmtp:${pt} level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f`,
          ];
        if (c === 'H264-high')
          return [`a=rtpmap:${pt} H264/90000`, `a=fmtp:${pt} packetization-mode=1;profile-level-id=640032`];
        return [`a=rtpmap:${pt} ${c}/90000`];
      }),
      '',
    ].join('\r\n');

  it('takes H.264-only offers, and leaves anything wrtc can carry to wrtc', () => {
    expect(isH264OnlyOffer(offer(['H264']))).toBe(true);
    expect(isH264OnlyOffer(offer(['H264', 'rtx']))).toBe(true);
    expect(isH264OnlyOffer(offer(['H264', 'VP8']))).toBe(false);
    expect(isH264OnlyOffer(offer(['VP9', 'H264']))).toBe(false);
    expect(isH264OnlyOffer(offer(['AV1', 'H264']))).toBe(false);
    expect(isH264OnlyOffer(offer(['VP8']))).toBe(false);
    // High profile only: nothing the RTP path decodes into constrained baseline answers.
    expect(isH264OnlyOffer(offer(['H264-high']))).toBe(false);
  });

  it('finds VP8 in an offer (the shared-encode path with VIDEO_ENCODE=shared)', () => {
    expect(offersVp8(offer(['VP8']))).toBe(true);
    expect(offersVp8(offer(['VP9', 'VP8', 'H264']))).toBe(true);
    expect(offersVp8(offer(['VP9', 'AV1']))).toBe(false);
    expect(offersVp8(offer(['H264']))).toBe(false);
  });

  it('writes ICE servers in libdatachannel form', () => {
    expect(
      toLibdatachannelIceServers([
        { urls: 'stun:stun.example.org:3478' },
        { urls: ['turn:turn.example.org:3478?transport=udp'], username: 'u:1', credential: 'p@ss' },
      ]),
    ).toEqual(['stun:stun.example.org:3478', 'turn:u%3A1:p%40ss@turn.example.org:3478?transport=udp']);
  });
});
