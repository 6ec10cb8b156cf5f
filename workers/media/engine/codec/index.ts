/** In-process codecs for the RTP-level media path (docs/codecs.md). */
export { CodecError } from './codec-error';
export { codecsAvailable, loadCodecAddon } from './native-codec';
export type { CodecAvailability } from './native-codec';
export { VideoEncoder } from './video-encoder';
export type {
  EncodedVideoFrame,
  VideoCodecName,
  VideoEncoderOptions,
  VideoEncoderStats,
  X264Preset,
} from './video-encoder';
export { VideoDecoder } from './video-decoder';
export type {
  DecodedVideoFrame,
  KeyframeNeededReason,
  VideoDecoderOptions,
  VideoDecoderSink,
  VideoDecoderStats,
} from './video-decoder';
export {
  OPUS_DTX_MAX_BYTES,
  OPUS_MAX_PACKET_BYTES,
  OpusDecoder,
  OpusEncoder,
  opusFrameSamples,
} from './opus';
export type { OpusEncoderOptions, OpusSampleRate } from './opus';
export { isVp8Keyframe, nalTypes, spsProfile, splitAnnexB } from './h264-nal';
export type { NalUnit, SpsProfile } from './h264-nal';
