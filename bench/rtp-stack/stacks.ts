/**
 * The two candidate RTP-level stacks behind one small interface, so the benchmark runs the same
 * scenario on each: a sender (the server's downlink: pre-encoded H.264 fanned out), a receiver
 * (a stand-in client, or the server side of an uplink), and an ingest that answers a browser's
 * offer. Signaling is non-trickle here (wait for gathering, then exchange one SDP each way).
 *
 * `ndc`: node-datachannel with RTP built in TypeScript (our packetizer, one N-API call per
 * packet); `ndc-native`: node-datachannel's own C++ chain (H264RtpPacketizer + SR reporter +
 * NACK responder, one call per frame per receiver); `werift`: werift's RTCPeerConnection fed
 * with the same packets as `ndc`.
 */
import * as nodeDataChannel from 'node-datachannel';
import { RTCPeerConnection, RTCRtpCodecParameters, MediaStreamTrack, type RtpPacket } from 'werift';
import { RtpPeer } from '../../workers/media/rtp';
import { H264Depacketizer } from '../../workers/media/rtp/h264-depacketizer';
import type { PayloadList } from '../../workers/media/rtp/payloads';
import { emptyRtpHeader, isRtcp, parseRtpHeader, writeRtpHeader } from '../../workers/media/rtp/rtp-packet';

export const STACK_NAMES = ['ndc', 'ndc-native', 'rtp-peer', 'werift'] as const;
export type StackName = (typeof STACK_NAMES)[number];

export function parseStackName(name: string): StackName {
  const known = STACK_NAMES.find((s) => s === name);
  if (!known) throw new Error(`unknown stack ${name} (known: ${STACK_NAMES.join(', ')})`);
  return known;
}
export const H264_FMTP = 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1';
const PT = 96;

export interface BenchSender {
  offer(): Promise<string>;
  setAnswer(sdp: string): Promise<void>;
  readonly connected: Promise<void>;
  /** One frame: `payloads` packetized once for all senders; `au` for stacks that packetize. */
  sendFrame(payloads: PayloadList, au: Uint8Array, rtpTimestamp: number, keyframe: boolean): void;
  close(): void;
}

export interface BenchReceiver {
  answer(offer: string): Promise<string>;
  /** Called when a frame's last packet (marker bit) arrives. */
  onFrame: (rtpTimestamp: number) => void;
  close(): void;
}

export interface IngestCounts {
  videoPackets: number;
  audioPackets: number;
  accessUnits: number;
  keyframes: number;
  discarded: number;
}

export interface BenchIngest {
  answer(offer: string): Promise<string>;
  readonly counts: IngestCounts;
  close(): void;
}

/** Removes what neither stack answers for in the benchmark: transport-cc (see docs/rtp-stack.md). */
export function stripTransportCc(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((l) => !/transport-cc|transport-wide-cc/.test(l))
    .join('\r\n');
}

function gathered(pc: nodeDataChannel.PeerConnection): Promise<string> {
  return new Promise((resolve) => {
    const done = () => resolve(pc.localDescription()?.sdp ?? '');
    if (pc.gatheringState() === 'complete') done();
    else pc.onGatheringStateChange((s) => s === 'complete' && done());
  });
}

const ndcConfig = (): nodeDataChannel.RtcConfig => ({ iceServers: [], bindAddress: '127.0.0.1' });

class NdcSender implements BenchSender {
  private readonly pc = new nodeDataChannel.PeerConnection('sender', ndcConfig());
  private readonly track: nodeDataChannel.Track;
  private readonly ssrc = (Math.random() * 0xffffffff) >>> 0;
  private readonly buf = Buffer.alloc(1500);
  private seq = 0;
  private readonly rtpConfig: nodeDataChannel.RtpPacketizationConfig | null = null;
  readonly connected: Promise<void>;

  constructor(private readonly native: boolean) {
    const v = new nodeDataChannel.Video('video', 'SendOnly');
    v.addH264Codec(PT, H264_FMTP);
    v.addSSRC(this.ssrc, 'bench', 'bench', 'video');
    this.track = this.pc.addTrack(v);
    if (native) {
      this.rtpConfig = new nodeDataChannel.RtpPacketizationConfig(this.ssrc, 'bench', PT, 90000);
      const packetizer = new nodeDataChannel.H264RtpPacketizer('StartSequence', this.rtpConfig);
      packetizer.addToChain(new nodeDataChannel.RtcpSrReporter(this.rtpConfig));
      packetizer.addToChain(new nodeDataChannel.RtcpNackResponder());
      this.track.setMediaHandler(packetizer);
    }
    this.connected = new Promise((resolve) => this.track.onOpen(() => resolve()));
  }

  offer(): Promise<string> {
    this.pc.setLocalDescription();
    return gathered(this.pc);
  }

  async setAnswer(sdp: string): Promise<void> {
    this.pc.setRemoteDescription(sdp, 'answer');
  }

  sendFrame(payloads: PayloadList, au: Uint8Array, ts: number): void {
    if (!this.track.isOpen()) return;
    if (this.rtpConfig) {
      this.rtpConfig.timestamp = ts;
      this.track.sendMessageBinary(Buffer.from(au.buffer, au.byteOffset, au.length));
      return;
    }
    for (let i = 0; i < payloads.count; i++) {
      const p = payloads.payload(i);
      writeRtpHeader(this.buf, i === payloads.count - 1, PT, this.seq, ts, this.ssrc);
      this.seq = (this.seq + 1) & 0xffff;
      this.buf.set(p, 12);
      this.track.sendMessageBinary(this.buf.subarray(0, 12 + p.length));
    }
  }

  close(): void {
    this.pc.close();
  }
}

class NdcReceiver implements BenchReceiver {
  private readonly pc = new nodeDataChannel.PeerConnection('receiver', ndcConfig());
  private readonly header = emptyRtpHeader();
  // node-datachannel drops a Track's callbacks when its JS object is collected: keep it.
  private readonly tracks: nodeDataChannel.Track[] = [];
  onFrame: (ts: number) => void = () => {};

  async answer(offer: string): Promise<string> {
    this.pc.onTrack(
      (t) =>
        this.tracks.push(t) &&
        t.onMessage((m) => {
          if (isRtcp(m) || !parseRtpHeader(m, this.header)) return;
          if (this.header.marker) this.onFrame(this.header.timestamp);
        }),
    );
    this.pc.setRemoteDescription(offer, 'offer');
    return gathered(this.pc);
  }

  close(): void {
    this.pc.close();
  }
}

class NdcIngest implements BenchIngest {
  private readonly pc = new nodeDataChannel.PeerConnection('ingest', ndcConfig());
  private readonly header = emptyRtpHeader();
  private readonly h264 = new H264Depacketizer();
  readonly counts: IngestCounts = {
    videoPackets: 0,
    audioPackets: 0,
    accessUnits: 0,
    keyframes: 0,
    discarded: 0,
  };

  private readonly tracks: nodeDataChannel.Track[] = [];

  async answer(offer: string): Promise<string> {
    const tracks = this.tracks;
    this.pc.onTrack((t) => {
      tracks.push(t);
      // libdatachannel's receiving session sends RR and REMB, as werift does by itself: without
      // receiver feedback Chromium's sender stays at its start rate.
      t.setMediaHandler(new nodeDataChannel.RtcpReceivingSession());
      const video = t.type() === 'video';
      let lastSeq = -1;
      t.onMessage((m) => {
        if (isRtcp(m) || !parseRtpHeader(m, this.header)) return;
        if (!video) {
          this.counts.audioPackets++;
          return;
        }
        if (this.header.payloadType !== PT_OF_OFFER.h264) return; // rtx
        this.counts.videoPackets++;
        const gap = lastSeq >= 0 && ((this.header.sequenceNumber - lastSeq) & 0xffff) !== 1;
        lastSeq = this.header.sequenceNumber;
        const h = this.header;
        const frame = this.h264.push(
          m.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength),
          h.timestamp,
          h.marker,
          gap,
        );
        this.counts.discarded = this.h264.discarded;
        if (frame) {
          this.counts.accessUnits++;
          if (frame.keyframe) this.counts.keyframes++;
        }
      });
    });
    PT_OF_OFFER.h264 = h264PayloadType(offer);
    this.pc.setRemoteDescription(stripTransportCc(offer), 'offer');
    const sdp = await gathered(this.pc);
    // Chromium sends a keyframe on its own at start; ask again once connected to be sure.
    setTimeout(
      () => tracks.forEach((t) => t.type() === 'video' && t.isOpen() && t.requestBitrate(1_000_000)),
      1000,
    );
    return sdp;
  }

  close(): void {
    this.pc.close();
  }
}

const PT_OF_OFFER = { h264: PT };

/** The payload type of H.264 packetization-mode 1 in a browser offer. */
export function h264PayloadType(sdp: string): number {
  for (const m of sdp.matchAll(/a=rtpmap:(\d+) H264\/90000/g)) {
    const pt = m[1];
    const fmtp = new RegExp(`a=fmtp:${pt} ([^\\r\\n]*)`).exec(sdp);
    if (fmtp && /packetization-mode=1/.test(fmtp[1])) return Number(pt);
  }
  throw new Error('no H.264 packetization-mode=1 in the offer');
}

function weriftPc(): RTCPeerConnection {
  return new RTCPeerConnection({
    codecs: {
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90000,
          payloadType: PT,
          parameters: H264_FMTP,
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }],
        }),
      ],
      audio: [
        new RTCRtpCodecParameters({
          mimeType: 'audio/opus',
          clockRate: 48000,
          channels: 2,
          payloadType: 111,
        }),
      ],
    },
    headerExtensions: { video: [], audio: [] },
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
  });
}

async function weriftGathered(pc: RTCPeerConnection): Promise<string> {
  if (pc.iceGatheringState !== 'complete') {
    await new Promise<void>((resolve) =>
      pc.iceGatheringStateChange.subscribe((s) => s === 'complete' && resolve()),
    );
  }
  return pc.localDescription?.sdp ?? '';
}

class WeriftSender implements BenchSender {
  private readonly pc = weriftPc();
  private readonly track = new MediaStreamTrack({ kind: 'video' });
  private readonly buf = Buffer.alloc(1500);
  private seq = 0;
  readonly connected: Promise<void>;

  constructor() {
    this.pc.addTransceiver(this.track, { direction: 'sendonly' });
    this.connected = new Promise((resolve) =>
      this.pc.connectionStateChange.subscribe((s) => s === 'connected' && resolve()),
    );
  }

  async offer(): Promise<string> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    return weriftGathered(this.pc);
  }

  async setAnswer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
  }

  sendFrame(payloads: PayloadList, _au: Uint8Array, ts: number): void {
    if (this.pc.connectionState !== 'connected') return;
    for (let i = 0; i < payloads.count; i++) {
      const p = payloads.payload(i);
      writeRtpHeader(this.buf, i === payloads.count - 1, PT, this.seq, ts, 1);
      this.seq = (this.seq + 1) & 0xffff;
      this.buf.set(p, 12);
      // werift parses the buffer into an RtpPacket and rewrites SSRC/PT for its sender.
      this.track.writeRtp(Buffer.from(this.buf.subarray(0, 12 + p.length)));
    }
  }

  close(): void {
    void this.pc.close();
  }
}

class WeriftReceiver implements BenchReceiver {
  private readonly pc = weriftPc();
  onFrame: (ts: number) => void = () => {};

  async answer(offer: string): Promise<string> {
    this.pc.onTrack.subscribe((t) =>
      t.onReceiveRtp.subscribe((rtp: RtpPacket) => rtp.header.marker && this.onFrame(rtp.header.timestamp)),
    );
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    return weriftGathered(this.pc);
  }

  close(): void {
    void this.pc.close();
  }
}

class WeriftIngest implements BenchIngest {
  private readonly pc = weriftPc();
  private readonly h264 = new H264Depacketizer();
  readonly counts: IngestCounts = {
    videoPackets: 0,
    audioPackets: 0,
    accessUnits: 0,
    keyframes: 0,
    discarded: 0,
  };

  async answer(offer: string): Promise<string> {
    this.pc.onTrack.subscribe((t) => {
      let lastSeq = -1;
      t.onReceiveRtp.subscribe((rtp: RtpPacket) => {
        if (t.kind === 'audio') {
          this.counts.audioPackets++;
          return;
        }
        this.counts.videoPackets++;
        const h = rtp.header;
        const gap = lastSeq >= 0 && ((h.sequenceNumber - lastSeq) & 0xffff) !== 1;
        lastSeq = h.sequenceNumber;
        const frame = this.h264.push(rtp.payload, h.timestamp, h.marker, gap);
        this.counts.discarded = this.h264.discarded;
        if (frame) {
          this.counts.accessUnits++;
          if (frame.keyframe) this.counts.keyframes++;
        }
      });
    });
    await this.pc.setRemoteDescription({ type: 'offer', sdp: stripTransportCc(offer) });
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    return weriftGathered(this.pc);
  }

  close(): void {
    void this.pc.close();
  }
}

/** The module itself (workers/media/rtp): history, RTX, SR, RR handling included. */
class RtpPeerSender implements BenchSender {
  private readonly peer = new RtpPeer({ id: 'bench', bindAddress: '127.0.0.1', videoCodecs: ['H264'] });
  readonly connected = new Promise<void>((resolve) =>
    this.peer.on('connection-state', (s) => s === 'connected' && resolve()),
  );

  offer(): Promise<string> {
    return this.peer.createOffer({ video: 'sendonly', waitForCandidates: true });
  }

  async setAnswer(sdp: string): Promise<void> {
    this.peer.acceptAnswer(sdp);
  }

  sendFrame(payloads: PayloadList, _au: Uint8Array, ts: number, keyframe: boolean): void {
    this.peer.sendVideoPayloads(payloads, ts, keyframe);
  }

  close(): void {
    this.peer.close();
  }
}

export function createSender(stack: StackName): BenchSender {
  if (stack === 'rtp-peer') return new RtpPeerSender();
  return stack === 'werift' ? new WeriftSender() : new NdcSender(stack === 'ndc-native');
}

export function createReceiver(stack: StackName): BenchReceiver {
  return stack === 'werift' ? new WeriftReceiver() : new NdcReceiver();
}

/** The module receiving: reorder buffer, NACK, RR/REMB and depacketizer included. */
class RtpPeerIngest implements BenchIngest {
  private readonly peer = new RtpPeer({
    id: 'bench-ingest',
    bindAddress: '127.0.0.1',
    maxIncomingVideoBitrate: 1_000_000,
  });
  private audioPackets = 0;

  /** Read from the peer's stats when asked (twice per window), not per frame. */
  get counts(): IngestCounts {
    const v = this.peer.getStats().video.receive;
    return {
      videoPackets: v?.packetsReceived ?? 0,
      audioPackets: this.audioPackets,
      accessUnits: v?.framesReceived ?? 0,
      keyframes: v?.keyframesReceived ?? 0,
      discarded: v?.framesDiscarded ?? 0,
    };
  }

  async answer(offer: string): Promise<string> {
    this.peer.on('video-frame', () => {});
    this.peer.on('audio-packet', () => this.audioPackets++);
    return this.peer.acceptOffer(offer, { waitForCandidates: true });
  }

  close(): void {
    this.peer.close();
  }
}

export function createIngest(stack: StackName): BenchIngest {
  if (stack === 'rtp-peer') return new RtpPeerIngest();
  return stack === 'werift' ? new WeriftIngest() : new NdcIngest();
}

/**
 * Before process.exit(): nothing to do. node-datachannel's cleanup() is not called because it
 * can crash after sessions (see workers/media/rtp/stack.ts); the process exits explicitly.
 */
export function shutdownStacks(): void {}
