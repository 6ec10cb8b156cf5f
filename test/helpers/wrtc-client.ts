import * as wrtc from '@roamhq/wrtc';
import { io, type Socket } from 'socket.io-client';
import type { JoinedPayload } from '../../workers/protocol/signaling';
import type { DownlinkProfile, Profile, ParticipantRole } from '../../workers/protocol/media';
import { createAudioSink, createVideoSink, type AudioSink, type VideoSink } from '../../workers/media/wrtc';
import {
  createI420,
  fillI420,
  rgbToYuv,
  type I420Frame,
  type Rgb,
} from '../../workers/media/engine/video/i420';
import { provisionJoin } from './api';
import { call } from './signal';

const { RTCPeerConnection } = wrtc;
const { RTCVideoSource, RTCAudioSource } = wrtc.nonstandard;

export interface TestClientOptions {
  roomId: string;
  displayName: string;
  /** Solid colour to send as video; omit for an audio-only participant. */
  colour?: Rgb;
  /** Sine tone to send, Hz; omit to send no audio track. 0 = a silent track. */
  toneHz?: number;
  toneAmplitude?: number;
  role?: ParticipantRole;
  profile?: Profile;
  /** Join token; when omitted the client creates the room if needed and gets a token itself. */
  token?: string;
  videoWidth?: number;
  videoHeight?: number;
  /** Overwrite a band of the sent picture with fresh noise every frame (hard to compress). */
  noise?: boolean;
  /** Only these video codecs in the offer (e.g. ['VP8']); default: all. */
  videoCodecs?: string[];
  /** No video section at all in the offer, and `audioOnly` declared at join. */
  audioOnly?: boolean;
  /** 'relay': this client uses TURN candidates only (the TURN test). */
  iceTransportPolicy?: 'all' | 'relay';
  /** A publisher's own tracks instead of the colour and tone (e.g. the lip-sync flash and beep). */
  attachMedia?: (pc: RTCPeerConnection) => void;
  /** Every decoded inbound frame as it reaches the sink, with performance.now(). */
  onVideoFrame?: (frame: I420Frame, atMs: number) => void;
  /** Every inbound audio chunk as it reaches the sink, with performance.now(). */
  onAudio?: (samples: Int16Array, sampleRate: number, channelCount: number, atMs: number) => void;
}

const AUDIO_RING_SECONDS = 4;

/**
 * A headless WebRTC participant for integration tests: a real @roamhq/wrtc peer connection
 * signalled over the real socket.io API. It sends a known colour and tone and keeps what it
 * receives (latest decoded frame, the last seconds of PCM) for content checks.
 */
export class TestClient {
  socket!: Socket;
  pc!: InstanceType<typeof RTCPeerConnection>;
  joined!: JoinedPayload;
  latestFrame: I420Frame | null = null;
  framesReceived = 0;
  frameTimes: number[] = [];
  events: { event: string; data: unknown; at: number }[] = [];
  private readonly audioRing = new Int16Array(48000 * AUDIO_RING_SECONDS);
  private audioWritten = 0;
  audioSampleRate = 48000;
  private timers: NodeJS.Timeout[] = [];
  private outFrame: I420Frame | null = null;
  private videoPaused = false;
  private stoppers: (() => void)[] = [];
  private readonly sinks: (VideoSink | AudioSink)[] = [];

  constructor(
    readonly serverUrl: string,
    readonly opts: TestClientOptions,
  ) {}

  static async connect(serverUrl: string, opts: TestClientOptions): Promise<TestClient> {
    const c = new TestClient(serverUrl, opts);
    await c.start();
    return c;
  }

  get participantId(): string {
    return this.joined.participantId;
  }

  async start(): Promise<void> {
    this.socket = io(this.serverUrl, { transports: ['websocket'], reconnection: false, forceNew: true });
    this.socket.onAny((event: string, data: unknown) => this.events.push({ event, data, at: Date.now() }));
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', reject);
    });
    const token = this.opts.token ?? (await provisionJoin(this.serverUrl, this.opts));
    this.joined = await call<JoinedPayload>(this.socket, 'join', {
      roomId: this.opts.roomId,
      profile: this.opts.profile,
      audioOnly: this.opts.audioOnly,
      token,
    });
    this.pc = new RTCPeerConnection({
      iceServers: this.joined.iceServers,
      iceTransportPolicy: this.opts.iceTransportPolicy ?? 'all',
    });
    this.pc.onicecandidate = (e) => {
      const c = e.candidate;
      void call(this.socket, 'ice', {
        candidate: c ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } : null,
      }).catch(() => undefined);
    };
    this.socket.on('ice', (d: { candidate: RTCIceCandidateInit | null }) => {
      if (d.candidate) void this.pc.addIceCandidate(d.candidate).catch(() => undefined);
    });
    this.socket.on('offer', async (d: { sdp: string }) => {
      await this.pc.setRemoteDescription({ type: 'offer', sdp: d.sdp });
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      await call(this.socket, 'answer', { sdp: this.pc.localDescription?.sdp });
    });
    this.pc.ontrack = (e) => this.onRemoteTrack(e.track);

    const publisher = (this.opts.role ?? 'publisher') === 'publisher';
    if (publisher && this.opts.attachMedia) this.opts.attachMedia(this.pc);
    else if (publisher && this.opts.colour) this.addColourVideo(this.opts.colour);
    else if (!this.opts.audioOnly) this.pc.addTransceiver('video', { direction: 'recvonly' });
    if (publisher && this.opts.attachMedia) {
      // its tracks are already there
    } else if (publisher && this.opts.toneHz !== undefined) this.addToneAudio(this.opts.toneHz);
    else this.pc.addTransceiver('audio', { direction: 'recvonly' });

    const offer = await this.pc.createOffer();
    const sdp = this.opts.videoCodecs ? onlyVideoCodecs(offer.sdp ?? '', this.opts.videoCodecs) : offer.sdp;
    await this.pc.setLocalDescription({ type: 'offer', sdp });
    const answer = await call<{ sdp: string }>(this.socket, 'offer', { sdp: this.pc.localDescription?.sdp });
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  }

  /** The last `ms` milliseconds of received audio (48 kHz mono). */
  recentAudio(ms: number): Int16Array {
    const n = Math.min(
      Math.floor((ms / 1000) * this.audioSampleRate),
      this.audioRing.length,
      this.audioWritten,
    );
    const out = new Int16Array(n);
    const end = this.audioWritten % this.audioRing.length;
    for (let i = 0; i < n; i++)
      out[i] = this.audioRing[(end - n + i + this.audioRing.length) % this.audioRing.length];
    return out;
  }

  get audioSamplesReceived(): number {
    return this.audioWritten;
  }

  /** Changes the size of the picture this client sends, mid-call. */
  setVideoSize(width: number, height: number): void {
    if (!this.opts.colour) throw new Error('this client sends no video');
    const f = createI420(width, height);
    fillI420(f, rgbToYuv(this.opts.colour));
    this.outFrame = f;
  }

  /** Changes the colour this client sends from the next frame on (a visible event to time). */
  setColour(colour: Rgb): void {
    if (!this.outFrame) throw new Error('this client sends no video');
    fillI420(this.outFrame, rgbToYuv(colour));
  }

  /** Stops (or resumes) sending frames without renegotiating: a stalled camera. */
  pauseVideo(paused: boolean): void {
    this.videoPaused = paused;
  }

  /** `audio`: the data saver; `pin`: no adaptive downlink (docs/adaptive-downlink.md). */
  async setProfile(profile: DownlinkProfile, pin?: boolean): Promise<void> {
    await call(this.socket, 'set-profile', pin === undefined ? { profile } : { profile, pin });
  }

  /**
   * libwebrtc's own inter-frame statistics of the received video (frames, Σ delay, Σ delay²),
   * kept by its native receive pipeline: unlike `frameTimes` (stamped when the JS callback
   * runs) they do not include stalls of this test process's event loop.
   */
  async videoInterFrameStats(): Promise<{ frames: number; sum: number; sumSq: number }> {
    const report = await this.pc.getStats();
    const out = { frames: 0, sum: 0, sumSq: 0 };
    report.forEach(
      (s: {
        type: string;
        kind?: string;
        framesDecoded?: number;
        totalInterFrameDelay?: number;
        totalSquaredInterFrameDelay?: number;
      }) => {
        if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
        out.frames += s.framesDecoded ?? 0;
        out.sum += s.totalInterFrameDelay ?? 0;
        out.sumSq += s.totalSquaredInterFrameDelay ?? 0;
      },
    );
    return out;
  }

  /** Bytes received so far on the video track and the negotiated video codec. */
  async videoInboundStats(): Promise<{ bytesReceived: number; codec: string | null; at: number }> {
    const report = await this.pc.getStats();
    let bytesReceived = 0;
    let codecId: string | null = null;
    const codecs = new Map<string, string>();
    report.forEach(
      (s: {
        type: string;
        kind?: string;
        mediaType?: string;
        bytesReceived?: number;
        codecId?: string;
        id: string;
        mimeType?: string;
      }) => {
        if (s.type === 'inbound-rtp' && (s.kind ?? s.mediaType) === 'video') {
          bytesReceived += s.bytesReceived ?? 0;
          codecId = s.codecId ?? codecId;
        }
        if (s.type === 'codec' && s.mimeType) codecs.set(s.id, s.mimeType);
      },
    );
    return { bytesReceived, codec: codecId ? (codecs.get(codecId) ?? null) : null, at: Date.now() };
  }

  eventsNamed(name: string): unknown[] {
    return this.events.filter((e) => e.event === name).map((e) => e.data);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    // Detach the callbacks before stopping (as ParticipantPeer does): a frame already queued for
    // the JS thread must not reach a client that is being torn down.
    for (const sink of this.sinks) {
      if ('onframe' in sink) sink.onframe = null;
      else sink.ondata = null;
    }
    for (const sink of this.sinks) sink.stop();
    for (const s of this.stoppers) s();
    this.pc?.close();
    this.socket?.disconnect();
  }

  private addColourVideo(colour: Rgb): void {
    const w = this.opts.videoWidth ?? 320;
    const h = this.opts.videoHeight ?? 240;
    const source = new RTCVideoSource();
    const track = source.createTrack();
    this.outFrame = createI420(w, h);
    fillI420(this.outFrame, rgbToYuv(colour));
    this.pc.addTrack(track);
    this.timers.push(
      setInterval(() => {
        if (!this.outFrame || this.videoPaused) return;
        if (this.opts.noise) {
          // The top half of the luma plane; the colour stays recognisable in the bottom half.
          const y = this.outFrame.data;
          const n = (this.outFrame.width * this.outFrame.height) >> 1;
          for (let i = 0; i < n; i++) y[i] = (Math.random() * 256) | 0;
        }
        source.onFrame(this.outFrame);
      }, 66),
    );
    this.stoppers.push(() => track.stop());
  }

  private addToneAudio(hz: number): void {
    const source = new RTCAudioSource();
    const track = source.createTrack();
    const amp = (this.opts.toneAmplitude ?? 0.3) * 32767;
    const samples = new Int16Array(480);
    let phase = 0;
    const step = (2 * Math.PI * hz) / 48000;
    const data = { samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 };
    // 10 ms frames, caught up against wall time so the stream keeps its real rate.
    const started = Date.now();
    let sent = 0;
    this.timers.push(
      setInterval(() => {
        const due = Math.floor((Date.now() - started) / 10);
        for (; sent < due; sent++) {
          for (let i = 0; i < 480; i++) {
            samples[i] = hz === 0 ? 0 : Math.round(amp * Math.sin(phase));
            phase += step;
          }
          phase %= 2 * Math.PI;
          source.onData(data);
        }
      }, 10),
    );
    this.pc.addTrack(track);
    this.stoppers.push(() => track.stop());
  }

  private onRemoteTrack(track: MediaStreamTrack): void {
    if (track.kind === 'video') {
      const sink = createVideoSink(track);
      sink.onframe = ({ frame }) => {
        this.latestFrame = { width: frame.width, height: frame.height, data: frame.data };
        this.framesReceived++;
        this.frameTimes.push(Date.now());
        if (this.frameTimes.length > 2000) this.frameTimes.splice(0, 1000);
        this.opts.onVideoFrame?.(this.latestFrame, performance.now());
      };
      this.sinks.push(sink);
    } else {
      const sink = createAudioSink(track);
      sink.ondata = (d) => {
        this.audioSampleRate = d.sampleRate;
        this.opts.onAudio?.(d.samples, d.sampleRate, d.channelCount, performance.now());
        const ch = d.channelCount;
        for (let i = 0; i < d.samples.length; i += ch) {
          this.audioRing[this.audioWritten % this.audioRing.length] = d.samples[i];
          this.audioWritten++;
        }
      };
      this.sinks.push(sink);
    }
  }
}

/** Removes every video payload type whose codec is not listed (and their rtx/fec companions). */
export function onlyVideoCodecs(sdp: string, codecs: string[]): string {
  const lines = sdp.split('\r\n');
  const videoStart = lines.findIndex((l) => l.startsWith('m=video'));
  if (videoStart < 0) return sdp;
  let videoEnd = lines.findIndex((l, i) => i > videoStart && l.startsWith('m='));
  if (videoEnd < 0) videoEnd = lines.length;
  const section = lines.slice(videoStart, videoEnd);
  const names = new Map<string, string>();
  for (const l of section) {
    const m = /^a=rtpmap:(\d+) ([^/]+)\//.exec(l);
    if (m) names.set(m[1], m[2].toUpperCase());
  }
  const keep = new Set<string>();
  for (const [pt, name] of names) if (codecs.map((c) => c.toUpperCase()).includes(name)) keep.add(pt);
  for (const l of section) {
    const m = /^a=fmtp:(\d+) apt=(\d+)/.exec(l);
    if (m && keep.has(m[2])) keep.add(m[1]);
  }
  const out = section
    .map((l) => {
      if (l.startsWith('m=video')) {
        const parts = l.split(' ');
        return [...parts.slice(0, 3), ...parts.slice(3).filter((pt) => keep.has(pt))].join(' ');
      }
      const m = /^a=(rtpmap|fmtp|rtcp-fb):(\d+)/.exec(l);
      if (m && !keep.has(m[2])) return null;
      return l;
    })
    .filter((l): l is string => l !== null);
  return [...lines.slice(0, videoStart), ...out, ...lines.slice(videoEnd)].join('\r\n');
}
