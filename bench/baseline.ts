/**
 * The latency baseline: the same stamped 640x360 @ 15 fps stream through one direct wrtc
 * peer-to-peer pair in this process, no server. It measures what one VP8 encode, a loopback
 * hop, the receive jitter buffer and one decode cost on this machine; the server's "added"
 * latency is the through-server latency minus this baseline's median.
 */
import * as wrtc from '@roamhq/wrtc';
import { createVideoSink, type VideoSink } from '../workers/media/wrtc';
import { MediaSender } from './media-sender';
import { percentile, round } from './stats';
import { readStamp, stampAge } from './stamp';
import { benchNow } from './ticker';

const { RTCPeerConnection } = wrtc;

export interface BaselineResult {
  status: 'ok' | 'failed';
  reason?: string;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  decodeRate: number | null;
  rxFps: number | null;
  samples: number;
}

export interface BaselineOptions {
  warmupMs: number;
  measureMs: number;
  progress: (line: string) => void;
  /** Registers a close function so an interrupt can tear the pair down. */
  track: (close: () => void) => () => void;
}

export async function runBaseline(opts: BaselineOptions): Promise<BaselineResult> {
  const a = new RTCPeerConnection();
  const b = new RTCPeerConnection();
  const sender = new MediaSender(0);
  let sink: VideoSink | null = null;
  const close = (): void => {
    sender.stop();
    sink?.stop();
    a.close();
    b.close();
  };
  const untrack = opts.track(close);
  try {
    a.onicecandidate = (e) => void (e.candidate && b.addIceCandidate(e.candidate).catch(() => undefined));
    b.onicecandidate = (e) => void (e.candidate && a.addIceCandidate(e.candidate).catch(() => undefined));
    let measuring = false;
    let frames = 0;
    let valid = 0;
    let last = -1;
    const latencies: number[] = [];
    b.ontrack = (e) => {
      if (e.track.kind !== 'video' || sink) return;
      sink = createVideoSink(e.track);
      sink.onframe = ({ frame }) => {
        if (!measuring) return;
        frames++;
        const stamp = readStamp(frame, { x: 0, y: 0, w: frame.width, h: frame.height });
        if (stamp < 0) return;
        valid++;
        if (stamp === last) return;
        last = stamp;
        latencies.push(stampAge(stamp, benchNow()));
      };
    };
    sender.attach(a);
    b.addTransceiver('audio', { direction: 'recvonly' });
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription as RTCSessionDescriptionInit);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription as RTCSessionDescriptionInit);
    sender.start();
    opts.progress(`baseline: direct peer-to-peer pair, warm-up ${opts.warmupMs / 1000} s`);
    await sleep(opts.warmupMs);
    measuring = true;
    const started = performance.now();
    await sleep(opts.measureMs);
    measuring = false;
    const seconds = (performance.now() - started) / 1000;
    const decoded = latencies.length;
    opts.progress(`baseline: ${decoded} stamps, p50 ${percentile(latencies, 50)} ms`);
    if (decoded === 0) {
      return {
        status: 'failed',
        reason: 'no stamp decoded',
        latencyP50Ms: null,
        latencyP95Ms: null,
        decodeRate: 0,
        rxFps: round(frames / seconds),
        samples: 0,
      };
    }
    return {
      status: 'ok',
      latencyP50Ms: round(percentile(latencies, 50)),
      latencyP95Ms: round(percentile(latencies, 95)),
      decodeRate: round(frames > 0 ? valid / frames : 0, 4),
      rxFps: round(frames / seconds),
      samples: decoded,
    };
  } finally {
    close();
    untrack();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
