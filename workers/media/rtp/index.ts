/**
 * RTP-level WebRTC for the media worker, beside @roamhq/wrtc: H.264 and VP8 endpoints whose
 * media we packetize ourselves, so that one encoded frame can go to many receivers
 * (docs/rtp-stack.md). Independent of the media room.
 */
export { RtpPeer } from './rtp-peer';
export type {
  KeyframeRequest,
  ReceivedVideoFrame,
  RtpConnectionState,
  RtpPeerEvents,
  RtpPeerOptions,
  RtpPeerStats,
} from './rtp-peer';
export type { ReceivedFrame } from './frame-assembler';
export { mediaTimestamp, systemRtpClock, type RtpClock } from './clock';
export { H264Packetizer } from './h264-packetizer';
export { Vp8Packetizer } from './vp8-rtp';
export type { PayloadList, RtpPacketizer } from './payloads';
export { UnsupportedOfferError, type SdpDirection, type VideoCodecName } from './sdp';
export type { SendStreamStats } from './send-stream';
export type { ReceiveStreamStats } from './receive-stream';
export { rtpStackStats, shutdownRtpStack, type RtpStackStats } from './stack';
