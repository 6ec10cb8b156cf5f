/**
 * One synthetic participant of the load generator: a real @roamhq/wrtc peer connection that
 * joins through REST tokens and socket.io signaling, sends 640x360 @ 15 fps with a frame stamp
 * and a tone, and measures what it receives (fps, gaps, stamps of every tile, audio).
 * The approach follows test/helpers/wrtc-client.ts; bench code does not import test code.
 */
import * as wrtc from '@roamhq/wrtc';
import { io, type Socket } from 'socket.io-client';
import type { JoinedPayload } from '../workers/protocol/signaling';
import { OUTPUT_PROFILES, type Profile } from '../workers/protocol/media';
import type { I420Frame } from '../workers/media/engine/video/i420';
import { createAudioSink, createVideoSink, type AudioSink, type VideoSink } from '../workers/media/wrtc';
import { provisionJoin, signal, type ServerEndpoint } from './control-api';
import { CompositeReader, senderPictures } from './composite-reader';
import { MediaSender, SOURCE_HEIGHT, SOURCE_WIDTH } from './media-sender';

const { RTCPeerConnection } = wrtc;

/** An inter-frame gap this long (3 frame times at 15 fps) is a freeze. */
export const FREEZE_GAP_MS = 200;
const SILENT_RMS = 50;

export interface ReceiveWindow {
  startedAt: number;
  frames: number;
  /** Frames received in each whole second of the window. */
  fpsPerSecond: number[];
  freezes: number;
  frozenMs: number;
  audioChunks: number;
  silentAudioChunks: number;
  lastFrameAt: number;
  /** Arrival time of every frame and audio chunk: the churn scenario looks for gaps around events. */
  frameTimes: number[];
  audioTimes: number[];
  /** Sample frames (per channel) of each audio chunk, parallel to audioTimes. */
  audioFrames: number[];
  /** Whether each chunk was audible (not silent), parallel to audioTimes. */
  audioAudible: boolean[];
  audioSampleRate: number;
}

export interface InboundTotals {
  videoBytes: number;
  audioBytes: number;
  headerBytes: number;
  audioSamples: number;
  concealedSamples: number;
  /** Video frames the native decoder produced (vs frames that reached JS: a backlog in this process). */
  framesDecoded: number;
  framesDropped: number;
  /** Sum of per-frame jitter-buffer delay (s) and the count it sums over. */
  jitterBufferDelay: number;
  jitterBufferEmitted: number;
  /** Uplink (this participant's camera): frames encoded, encode time and pacer delay sums. */
  upFramesEncoded: number;
  upEncodeSeconds: number;
  upPacketSendDelay: number;
  upPacketsSent: number;
  /** Seconds the uplink encoder reported itself limited by CPU. */
  upCpuLimitedSeconds: number;
  /** Latest round-trip time to the server (ms), from RTCP. */
  rttMs: number;
  at: number;
}

export class SyntheticParticipant {
  readonly sender: MediaSender;
  socket: Socket | null = null;
  pc: InstanceType<typeof RTCPeerConnection> | null = null;
  participantId = '';
  reader: CompositeReader | null = null;
  window: ReceiveWindow = SyntheticParticipant.emptyWindow(0);
  /** Frames received since start (for the live progress line). */
  framesTotal = 0;
  connectionState = 'new';
  /** Called for every received frame after it was read (the churn scenario times first pictures). */
  onFrame: ((at: number) => void) | null = null;
  private videoSink: VideoSink | null = null;
  private audioSink: AudioSink | null = null;
  private closed = false;

  constructor(
    readonly index: number,
    readonly roomId: string,
    readonly profile: Profile,
  ) {
    this.sender = new MediaSender(index);
  }

  static emptyWindow(startedAt: number): ReceiveWindow {
    return {
      startedAt,
      frames: 0,
      fpsPerSecond: [],
      freezes: 0,
      frozenMs: 0,
      audioChunks: 0,
      silentAudioChunks: 0,
      lastFrameAt: 0,
      frameTimes: [],
      audioTimes: [],
      audioFrames: [],
      audioAudible: [],
      audioSampleRate: 48000,
    };
  }

  /** Step 1, strictly in sequence per room: the server's join order is the layout order. */
  async join(server: ServerEndpoint, timeoutMs: number): Promise<JoinedPayload> {
    const token = await provisionJoin(server, this.roomId, `bench-${this.index}`);
    this.socket = io(server.url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: timeoutMs,
    });
    const socket = this.socket;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('socket connect timed out')), timeoutMs);
      socket.once('connect', () => (clearTimeout(t), resolve()));
      socket.once('connect_error', (e: Error) => (clearTimeout(t), reject(e)));
    });
    const joined = await signal<JoinedPayload>(socket, 'join', {
      roomId: this.roomId,
      token,
      profile: this.profile,
    });
    this.participantId = joined.participantId;
    return joined;
  }

  /** Step 2 (may run in parallel): the peer connection, offer/answer and trickle ICE. */
  async connect(joined: JoinedPayload): Promise<void> {
    const socket = this.socket;
    if (!socket) throw new Error('join first');
    const pc = new RTCPeerConnection({ iceServers: joined.iceServers });
    this.pc = pc;
    pc.onicecandidate = (e) => {
      const c = e.candidate;
      const candidate = c
        ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }
        : null;
      signal(socket, 'ice', { candidate }).catch(() => undefined);
    };
    pc.onconnectionstatechange = () => (this.connectionState = pc.connectionState);
    socket.on('ice', (d: { candidate: RTCIceCandidateInit | null }) => {
      if (d.candidate && !this.closed) pc.addIceCandidate(d.candidate).catch(() => undefined);
    });
    // Server-initiated renegotiation (profile switches): answer it or the new ceiling never applies.
    socket.on('offer', (d: { sdp: string }) => {
      void (async () => {
        await pc.setRemoteDescription({ type: 'offer', sdp: d.sdp });
        await pc.setLocalDescription(await pc.createAnswer());
        await signal(socket, 'answer', { sdp: pc.localDescription?.sdp });
      })().catch(() => undefined);
    });
    pc.ontrack = (e) => this.onRemoteTrack(e.track);
    this.sender.attach(pc);
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await signal<{ sdp: string }>(socket, 'offer', { sdp: pc.localDescription?.sdp });
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  }

  /** Tells the receiver where the senders' pictures are (after every join in the room). */
  setRoomOrder(participantIds: readonly string[]): void {
    const p = OUTPUT_PROFILES[this.profile];
    const pictures = senderPictures(participantIds, p.width, p.height, SOURCE_WIDTH, SOURCE_HEIGHT);
    const counters = this.reader?.counters;
    this.reader = new CompositeReader(pictures, p.width, p.height);
    // A re-layout mid-window (someone joined or left) keeps what was counted so far.
    if (counters) this.reader.counters = counters;
  }

  beginWindow(now: number): void {
    this.window = SyntheticParticipant.emptyWindow(now);
    this.reader?.resetCounters();
  }

  /** Cumulative inbound/outbound counters from getStats() (bytes, concealment, decode, encode, pacing). */
  async inboundTotals(): Promise<InboundTotals> {
    const totals: InboundTotals = {
      videoBytes: 0,
      audioBytes: 0,
      headerBytes: 0,
      audioSamples: 0,
      concealedSamples: 0,
      framesDecoded: 0,
      framesDropped: 0,
      jitterBufferDelay: 0,
      jitterBufferEmitted: 0,
      upFramesEncoded: 0,
      upEncodeSeconds: 0,
      upPacketSendDelay: 0,
      upPacketsSent: 0,
      upCpuLimitedSeconds: 0,
      rttMs: NaN,
      at: performance.now(),
    };
    if (!this.pc) return totals;
    const report = await this.pc.getStats();
    report.forEach((s: Record<string, unknown>) => {
      if (s.type === 'outbound-rtp' && (s.kind ?? s.mediaType) === 'video') {
        totals.upFramesEncoded += Number(s.framesEncoded ?? 0);
        totals.upEncodeSeconds += Number(s.totalEncodeTime ?? 0);
        totals.upPacketSendDelay += Number(s.totalPacketSendDelay ?? 0);
        totals.upPacketsSent += Number(s.packetsSent ?? 0);
        const limits = s.qualityLimitationDurations as Record<string, number> | undefined;
        totals.upCpuLimitedSeconds += Number(limits?.cpu ?? 0);
      }
      if (
        s.type === 'remote-inbound-rtp' &&
        (s.kind ?? s.mediaType) === 'video' &&
        s.roundTripTime !== undefined
      ) {
        totals.rttMs = Number(s.roundTripTime) * 1000;
      }
      if (s.type !== 'inbound-rtp') return;
      const kind = s.kind ?? s.mediaType;
      const bytes = Number(s.bytesReceived ?? 0);
      totals.headerBytes += Number(s.headerBytesReceived ?? 0);
      if (kind === 'video') {
        totals.videoBytes += bytes;
        totals.framesDecoded += Number(s.framesDecoded ?? 0);
        totals.framesDropped += Number(s.framesDropped ?? 0);
        totals.jitterBufferDelay += Number(s.jitterBufferDelay ?? 0);
        totals.jitterBufferEmitted += Number(s.jitterBufferEmittedCount ?? 0);
      } else {
        totals.audioBytes += bytes;
        totals.audioSamples += Number(s.totalSamplesReceived ?? 0);
        totals.concealedSamples += Number(s.concealedSamples ?? 0);
      }
    });
    return totals;
  }

  /** Leaves the way a client does when the user hangs up: `leave`, then close everything. */
  async leave(timeoutMs: number): Promise<void> {
    if (this.socket?.connected && !this.closed) {
      await signal(this.socket, 'leave', {}, timeoutMs).catch(() => undefined);
    }
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sender.stop();
    this.videoSink?.stop();
    this.audioSink?.stop();
    this.pc?.close();
    this.socket?.disconnect();
  }

  private onRemoteTrack(track: MediaStreamTrack): void {
    if (track.kind === 'video' && !this.videoSink) {
      this.videoSink = createVideoSink(track);
      this.videoSink.onframe = ({ frame }) => this.onVideoFrame(frame);
    } else if (track.kind === 'audio' && !this.audioSink) {
      this.audioSink = createAudioSink(track);
      this.audioSink.ondata = (d) => this.onAudio(d.samples, d.channelCount, d.numberOfFrames, d.sampleRate);
    }
  }

  private onVideoFrame(frame: I420Frame): void {
    const now = performance.now();
    this.framesTotal++;
    const w = this.window;
    if (w.startedAt === 0) {
      this.onFrame?.(now);
      return;
    }
    w.frameTimes.push(now);
    if (w.lastFrameAt > 0) {
      const gap = now - w.lastFrameAt;
      if (gap > FREEZE_GAP_MS) {
        w.freezes++;
        w.frozenMs += gap;
      }
    }
    w.lastFrameAt = now;
    w.frames++;
    const second = Math.floor((now - w.startedAt) / 1000);
    while (w.fpsPerSecond.length <= second) w.fpsPerSecond.push(0);
    w.fpsPerSecond[second]++;
    this.reader?.read(frame, performance.timeOrigin + now);
    this.onFrame?.(now);
  }

  private onAudio(samples: Int16Array, channels: number, frames: number, sampleRate: number): void {
    const now = performance.now();
    const w = this.window;
    if (w.startedAt === 0) return;
    w.audioTimes.push(now);
    w.audioFrames.push(frames);
    w.audioSampleRate = sampleRate;
    let sum = 0;
    let n = 0;
    for (let i = 0; i < samples.length; i += channels, n++) sum += samples[i] * samples[i];
    w.audioChunks++;
    // Everyone else sends a tone, so the mix-minus is never legitimately silent.
    const silent = n === 0 || Math.sqrt(sum / n) < SILENT_RMS;
    if (silent) w.silentAudioChunks++;
    w.audioAudible.push(!silent);
  }
}
