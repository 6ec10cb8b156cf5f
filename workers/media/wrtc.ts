/**
 * The slice of @roamhq/wrtc the worker uses, with the nonstandard sink callbacks typed (the
 * package's own .d.ts leaves them as an untyped EventHandler).
 */
import * as wrtc from '@roamhq/wrtc';

export const { RTCPeerConnection } = wrtc;
export const { RTCVideoSource, RTCAudioSource } = wrtc.nonstandard;

export interface SinkVideoFrame {
  width: number;
  height: number;
  rotation: number;
  data: Uint8Array;
}

export interface SinkAudioData {
  samples: Int16Array;
  sampleRate: number;
  bitsPerSample: number;
  channelCount: number;
  numberOfFrames: number;
}

export interface VideoSink {
  onframe: ((e: { frame: SinkVideoFrame }) => void) | null;
  stop(): void;
}

export interface AudioSink {
  ondata: ((d: SinkAudioData) => void) | null;
  stop(): void;
}

export function createVideoSink(track: MediaStreamTrack): VideoSink {
  return new wrtc.nonstandard.RTCVideoSink(track) as unknown as VideoSink;
}

export function createAudioSink(track: MediaStreamTrack): AudioSink {
  return new wrtc.nonstandard.RTCAudioSink(track) as unknown as AudioSink;
}

export type WrtcPeerConnection = InstanceType<typeof RTCPeerConnection>;

/**
 * RTCConfiguration plus @roamhq/wrtc's nonstandard `portRange` (its CHANGELOG): the UDP and
 * passive-TCP ports of the connection's ICE candidates stay within [min, max].
 */
export interface WrtcConfiguration extends RTCConfiguration {
  portRange?: { min: number; max: number };
}

export function createPeerConnection(config: WrtcConfiguration): WrtcPeerConnection {
  return new RTCPeerConnection(config);
}
export type WrtcVideoSource = InstanceType<typeof RTCVideoSource>;
export type WrtcAudioSource = InstanceType<typeof RTCAudioSource>;
