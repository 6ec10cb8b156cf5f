/**
 * An H.264-only WebRTC endpoint for the benchmarks (bench/h264-fanout, bench/h264-room): a
 * node-datachannel `RtpPeer` signalled over socket.io like any client, sending the benchmark's
 * moving, stamped picture through x264 and an Opus tone, and/or decoding what it receives with
 * our decoder (as a player would: the latency includes the decode).
 */
import { io, type Socket } from 'socket.io-client';
import type { JoinedPayload } from '../workers/protocol/signaling';
import { OpusEncoder, VideoDecoder, VideoEncoder } from '../workers/media/engine/codec';
import type { I420Frame } from '../workers/media/engine/video/i420';
import { createI420, fillRect } from '../workers/media/engine/video/i420';
import { mediaTimestamp, RtpPeer } from '../workers/media/rtp';
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
 * An H.264-only RtpPeer signalled like any client (a publisher sends and receives, a viewer
 * receives); retried when libdatachannel's DTLS set-up between two of its own peers fails
 * (docs/rtp-stack.md, known issues).
 */
export async function rtpSession(
  server: ServerEndpoint,
  roomId: string,
  name: string,
  role: 'publisher' | 'viewer',
): Promise<{ peer: RtpPeer; socket: Socket; joined: JoinedPayload }> {
  for (let attempt = 0; ; attempt++) {
    const { socket, joined } = await joinSocket(server, roomId, `${name}-${attempt}`, role);
    const peer = new RtpPeer({ id: name, videoCodecs: ['H264'], send: role === 'publisher', receive: true });
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

/** Decodes the peer's inbound H.264 (our decoder, its own thread); PLI when it cannot. */
export function decodeInbound(
  peer: RtpPeer,
  onFrame: (frame: I420Frame) => void,
): { readonly frames: number; close(): void } {
  const decoder = VideoDecoder.create(
    { codec: 'h264' },
    { onFrame, onKeyframeNeeded: () => peer.requestKeyframe() },
  );
  if (!decoder) throw new Error('the codec addon is needed for H.264 endpoints');
  const state = { frames: 0, close: () => decoder.close() };
  peer.on('video-frame', (f) => {
    state.frames++;
    decoder.decode(f.data, f.rtpTimestamp);
  });
  return state;
}

/**
 * Sends the benchmark's picture (a square moving over a gradient, the time stamp on top) through
 * x264 at 15 fps and a 300 Hz Opus tone on the peer, from `start()` on.
 */
export function h264Sender(peer: RtpPeer): { start(): void; close(): void } {
  const frame = createI420(SOURCE_WIDTH, SOURCE_HEIGHT);
  const background = createI420(SOURCE_WIDTH, SOURCE_HEIGHT);
  for (let y = 0; y < SOURCE_HEIGHT; y++)
    for (let x = 0; x < SOURCE_WIDTH; x++)
      background.data[y * SOURCE_WIDTH + x] = 40 + ((x + y) * 140) / (SOURCE_WIDTH + SOURCE_HEIGHT);
  background.data.fill(128, SOURCE_WIDTH * SOURCE_HEIGHT);
  const encoder = VideoEncoder.create(
    { codec: 'h264', width: SOURCE_WIDTH, height: SOURCE_HEIGHT, fps: SOURCE_FPS, bitrateKbps: 550 },
    (f) => peer.sendVideoFrame(f.data, mediaTimestamp(f.pts, 90000), f.keyframe),
  );
  const opus = OpusEncoder.create({ complexity: 5 });
  if (!encoder || !opus) throw new Error('the codec addon is needed for H.264 endpoints');
  peer.on('keyframe-request', () => encoder.requestKeyframe());
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
    peer.sendAudio(packet.subarray(0, opus.encode(pcm, packet)), mediaTimestamp(audioAt, 48000));
  });
  return {
    start: () => {
      video.start();
      audio.start();
    },
    close: () => {
      video.stop();
      audio.stop();
      encoder.close();
      opus.close();
    },
  };
}
