/**
 * An RTP-level WebRTC endpoint for the benchmarks (bench/h264-fanout, bench/h264-room,
 * bench/lean-room): a node-datachannel `RtpPeer` signalled over socket.io like any client,
 * offering one video codec (H.264 or VP8), sending the benchmark's moving, stamped picture
 * through our encoder and an Opus tone, and/or decoding what it receives with our decoder (as a
 * player would: the latency includes the decode).
 */
import { io, type Socket } from 'socket.io-client';
import type { JoinedPayload } from '../workers/protocol/signaling';
import { OpusEncoder, VideoDecoder, VideoEncoder, type VideoCodecName } from '../workers/media/engine/codec';
import type { I420Frame } from '../workers/media/engine/video/i420';
import { createI420, fillRect } from '../workers/media/engine/video/i420';
import { mediaTimestamp, RtpPeer } from '../workers/media/rtp';
import { setLogSink } from '../workers/kernel/logger';
import { adminRequest, signal, type ServerEndpoint } from './control-api';
import { SOURCE_FPS, SOURCE_HEIGHT, SOURCE_WIDTH } from './media-sender';
import { drawStamp, STAMP_HEIGHT_FRACTION } from './stamp';
import { benchNow, Ticker } from './ticker';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function joinSocket(
  server: ServerEndpoint,
  roomId: string,
  name: string,
  role: 'publisher' | 'viewer',
): Promise<{ socket: Socket; joined: JoinedPayload }> {
  const res = await adminRequest<{ token: string }>(server, 'POST', `/api/rooms/${roomId}/tokens`, {
    identity: name,
    displayName: name,
    role,
  });
  if (res.status !== 201 || !res.body) throw new Error(`token: ${res.status}`);
  const socket = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const joined = await signal<JoinedPayload>(socket, 'join', {
    roomId,
    token: res.body.token,
    profile: 'standard',
  });
  return { socket, joined };
}

/**
 * An RtpPeer offering only `codec` (default H.264), signalled like any client (a publisher sends
 * and receives, a viewer receives); retried when libdatachannel's DTLS set-up between two of its
 * own peers fails (docs/rtp-stack.md, known issues).
 */
export async function rtpSession(
  server: ServerEndpoint,
  roomId: string,
  name: string,
  role: 'publisher' | 'viewer',
  codec: VideoCodecName = 'h264',
): Promise<{ peer: RtpPeer; socket: Socket; joined: JoinedPayload }> {
  for (let attempt = 0; ; attempt++) {
    const { socket, joined } = await joinSocket(server, roomId, `${name}-${attempt}`, role);
    const peer = new RtpPeer({
      id: name,
      videoCodecs: [codec === 'h264' ? 'H264' : 'VP8'],
      send: role === 'publisher',
      receive: true,
    });
    peer.on('candidate', (c) => {
      signal(socket, 'ice', { candidate: { candidate: c.candidate, sdpMid: c.mid } }).catch(() => undefined);
    });
    socket.on('ice', (d: { candidate: { candidate: string; sdpMid?: string | null } | null }) => {
      if (d.candidate) peer.addRemoteCandidate(d.candidate.candidate, d.candidate.sdpMid ?? '0');
    });
    const direction = role === 'publisher' ? 'sendrecv' : 'recvonly';
    const offer = await peer.createOffer({ video: direction, audio: direction });
    const answer = await signal<{ sdp: string }>(socket, 'offer', { sdp: offer });
    peer.acceptAnswer(answer.sdp);
    const deadline = Date.now() + 10000;
    while (peer.connectionState !== 'connected' && peer.connectionState !== 'failed' && Date.now() < deadline)
      await sleep(100);
    if (peer.connectionState === 'connected') return { peer, socket, joined };
    peer.close();
    socket.close();
    if (attempt >= 3) throw new Error(`${name} did not connect`);
  }
}

/**
 * The in-process RtpPeers log every state change (and libdatachannel's DTLS failures between two
 * of its own peers, which rtpSession retries): counted, kept off the progress output until
 * `restore()`.
 */
export function quietRtpLogs(): { dtlsRetries: number; restore(): void } {
  const state = {
    dtlsRetries: 0,
    restore: () => setLogSink((line) => process.stdout.write(line + '\n')),
  };
  setLogSink((line) => {
    if (line.includes('DTLS handshake failed')) state.dtlsRetries++;
  });
  return state;
}

/** Decodes the peer's inbound video (our decoder, its own thread); PLI when it cannot. */
export function decodeInbound(
  peer: RtpPeer,
  onFrame: (frame: I420Frame) => void,
  codec: VideoCodecName = 'h264',
): { readonly frames: number; close(): void } {
  const decoder = VideoDecoder.create({ codec }, { onFrame, onKeyframeNeeded: () => peer.requestKeyframe() });
  if (!decoder) throw new Error('the codec addon is needed for RTP-level endpoints');
  const state = { frames: 0, close: () => decoder.close() };
  peer.on('video-frame', (f) => {
    state.frames++;
    decoder.decode(f.data, f.rtpTimestamp);
  });
  return state;
}

/** A publisher of an encodedSender: its peer and how long after each encode it sends. */
export interface SenderTarget {
  peer: RtpPeer;
  /** Sends each frame this long after its encode (independent cameras are not in phase). */
  delayMs: number;
}

/** Sends the benchmark's picture and tone on one peer through x264 (bench/h264-room, h264-fanout). */
export function h264Sender(peer: RtpPeer): { start(): void; close(): void } {
  return encodedSender('h264', [{ peer, delayMs: 0 }]);
}

/**
 * Encodes the benchmark's picture (a square moving over a gradient, the time stamp on top) at
 * 15 fps with `codec` and a 300 Hz Opus tone ONCE, and sends both on every target peer, from
 * `start()` on. One encode for many publishers keeps a load generator cheap (bench/lean-room):
 * the server still receives, decodes and mixes each publisher's stream on its own. A target's
 * frames leave `delayMs` after their encode (and carry that later media time); the picture's
 * stamp is the encode time, so a reader subtracts the delay (CompositeReader's offsets). Keyframe
 * requests of any target are served by the one encoder (our encoder throttles nothing: at most
 * one every 500 ms here, so a join of many does not turn every frame into a keyframe).
 */
export function encodedSender(
  codec: VideoCodecName,
  targets: readonly SenderTarget[],
): { start(): void; close(): void } {
  const frame = createI420(SOURCE_WIDTH, SOURCE_HEIGHT);
  const background = createI420(SOURCE_WIDTH, SOURCE_HEIGHT);
  for (let y = 0; y < SOURCE_HEIGHT; y++)
    for (let x = 0; x < SOURCE_WIDTH; x++)
      background.data[y * SOURCE_WIDTH + x] = 40 + ((x + y) * 140) / (SOURCE_WIDTH + SOURCE_HEIGHT);
  background.data.fill(128, SOURCE_WIDTH * SOURCE_HEIGHT);
  const timers = new Set<NodeJS.Timeout>();
  const send = (t: SenderTarget, data: Uint8Array, pts: number, keyframe: boolean): void => {
    t.peer.sendVideoFrame(data, mediaTimestamp(pts + t.delayMs, 90000), keyframe);
  };
  const encoder = VideoEncoder.create(
    { codec, width: SOURCE_WIDTH, height: SOURCE_HEIGHT, fps: SOURCE_FPS, bitrateKbps: 550 },
    (f) => {
      // The encoder's buffer is not ours past this call: delayed sends take a copy.
      const data = targets.some((t) => t.delayMs > 0) ? f.data.slice() : f.data;
      for (const t of targets) {
        if (t.delayMs <= 0) {
          send(t, data, f.pts, f.keyframe);
          continue;
        }
        const timer = setTimeout(() => {
          timers.delete(timer);
          send(t, data, f.pts, f.keyframe);
        }, t.delayMs);
        timers.add(timer);
      }
    },
  );
  const opus = OpusEncoder.create({ complexity: 5 });
  if (!encoder || !opus) throw new Error('the codec addon is needed for RTP-level endpoints');
  let lastKeyframeRequest = -Infinity;
  for (const t of targets)
    t.peer.on('keyframe-request', () => {
      const now = performance.now();
      if (now - lastKeyframeRequest < 500) return;
      lastKeyframeRequest = now;
      encoder.requestKeyframe();
    });
  let n = 0;
  const video = new Ticker(1000 / SOURCE_FPS, () => {
    frame.data.set(background.data);
    const top = Math.ceil(SOURCE_HEIGHT * STAMP_HEIGHT_FRACTION) + 8;
    const span = SOURCE_WIDTH - 80;
    const x = Math.abs(((n * 9) % (2 * span)) - span);
    fillRect(frame, x, top + ((n * 5) % (SOURCE_HEIGHT - top - 80)), 80, 80, { y: 200, u: 90, v: 160 });
    drawStamp(frame, benchNow());
    encoder.encode(frame.data, performance.now());
    n++;
  });
  const pcm = new Int16Array(960);
  const packet = new Uint8Array(1500);
  let phase = 0;
  let audioAt = -1;
  const audio = new Ticker(20, () => {
    for (let i = 0; i < pcm.length; i++)
      pcm[i] = Math.round(1600 * Math.sin((phase += (2 * Math.PI * 300) / 48000)));
    audioAt = audioAt < 0 ? performance.now() : audioAt + 20;
    const encoded = packet.subarray(0, opus.encode(pcm, packet));
    for (const t of targets) t.peer.sendAudio(encoded, mediaTimestamp(audioAt, 48000));
  });
  return {
    start: () => {
      video.start();
      audio.start();
    },
    close: () => {
      video.stop();
      audio.stop();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      encoder.close();
      opus.close();
    },
  };
}
