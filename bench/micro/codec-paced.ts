/**
 * The paced part of the codec micro-benchmark (bench/micro/codecs.ts): 640x360 frames offered
 * in real time at 15 fps to (a) a pair of @roamhq/wrtc peer connections, libwebrtc encoding and
 * decoding VP8 as it does per participant today, and (b) our encoder feeding our decoder, both
 * capped at the standard profile's bitrate; process CPU, fps and bitrate over a window.
 */
import * as wrtc from '@roamhq/wrtc';
import { VideoDecoder } from '../../workers/media/engine/codec/video-decoder';
import { VideoEncoder, type VideoCodecName } from '../../workers/media/engine/codec/video-encoder';
import type { I420Frame } from '../../workers/media/engine/video/i420';
import { withVideoBandwidth } from '../../workers/media/sdp';
import { createVideoSink, type VideoSink } from '../../workers/media/wrtc';
import { OUTPUT_PROFILES } from '../../workers/protocol/media';

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

export interface PacedResult {
  /** Process CPU over the window, % of one core. */
  core: number;
  /** Frames offered and delivered per second, and the video bitrate, over the window. */
  offeredFps: number;
  deliveredFps: number;
  kbps: number;
}

interface Counters {
  frames: number;
  bytes: number;
}

/** 550 kbit/s: the standard profile's cap (OUTPUT_PROFILES.standard.maxVideoKbps). */
export const PACED_KBPS = OUTPUT_PROFILES.standard.maxVideoKbps;

/**
 * Offers a frame every 1/fps s for `seconds` after a 2 s warm-up; `read()` gives the receiving
 * side's frame and byte counters at the window's edges.
 */
async function paced(
  fps: number,
  seconds: number,
  tick: (i: number) => void,
  read: () => Promise<Counters>,
): Promise<PacedResult> {
  let i = 0;
  const timer = setInterval(() => tick(i++), 1000 / fps);
  await sleep(2000);
  const start = await read();
  const i0 = i;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const elapsed = performance.now() - t0;
  const cpu = cpuMs(cpu0);
  const end = await read();
  clearInterval(timer);
  return {
    core: (cpu / elapsed) * 100,
    offeredFps: ((i - i0) * 1000) / elapsed,
    deliveredFps: ((end.frames - start.frames) * 1000) / elapsed,
    kbps: ((end.bytes - start.bytes) * 8) / elapsed,
  };
}

/**
 * Today's path: one RTCVideoSource track through a pair of wrtc peer connections, capped like a
 * standard downlink (b=AS in the description the sender gets, as workers/media/sdp.ts does).
 */
export async function wrtcPair(frames: I420Frame[], seconds: number): Promise<PacedResult> {
  const { RTCPeerConnection, nonstandard } = wrtc;
  const a = new RTCPeerConnection();
  const b = new RTCPeerConnection();
  const source = new nonstandard.RTCVideoSource();
  const track = source.createTrack();
  let received = 0;
  const receiver: { sink: VideoSink | null } = { sink: null };
  a.onicecandidate = (e) => void (e.candidate && b.addIceCandidate(e.candidate).catch(() => undefined));
  b.onicecandidate = (e) => void (e.candidate && a.addIceCandidate(e.candidate).catch(() => undefined));
  b.ontrack = (e) => {
    const sink = createVideoSink(e.track);
    sink.onframe = () => received++;
    receiver.sink = sink;
  };
  a.addTrack(track);
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription as RTCSessionDescriptionInit);
  await b.setLocalDescription(await b.createAnswer());
  const answer = b.localDescription as RTCSessionDescriptionInit;
  await a.setRemoteDescription({ type: 'answer', sdp: withVideoBandwidth(answer.sdp ?? '', PACED_KBPS) });
  const read = async (): Promise<Counters> => {
    let bytes = 0;
    (await b.getStats()).forEach((r: { type: string; kind?: string; bytesReceived?: number }) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') bytes = r.bytesReceived ?? 0;
    });
    return { frames: received, bytes };
  };
  const { width, height } = frames[0];
  const r = await paced(
    15,
    seconds,
    (i) => source.onFrame({ width, height, data: frames[i % frames.length].data }),
    read,
  );
  track.stop();
  receiver.sink?.stop();
  a.close();
  b.close();
  return r;
}

/** The new path, encoder and decoder in one process as the wrtc pair is. */
export async function ownPair(
  codec: VideoCodecName,
  frames: I420Frame[],
  seconds: number,
): Promise<PacedResult> {
  const { width, height } = frames[0];
  let decoded = 0;
  let bytes = 0;
  const dec = VideoDecoder.create({ codec }, { onFrame: () => decoded++, onKeyframeNeeded: () => undefined });
  const enc = VideoEncoder.create({ codec, width, height, fps: 15, bitrateKbps: PACED_KBPS }, (f) => {
    bytes += f.data.length;
    dec?.decode(f.data, f.pts);
  });
  if (enc === null || dec === null) throw new Error('codec addon unavailable');
  const read = async (): Promise<Counters> => ({ frames: decoded, bytes });
  const r = await paced(15, seconds, (i) => enc.encode(frames[i % frames.length].data, i), read);
  enc.close();
  dec.close();
  return r;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
