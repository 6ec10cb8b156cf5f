/**
 * What a synthetic participant sends: 640x360 I420 at 15 fps (a static gradient, a moving box
 * so the encoder has real motion to code, and the frame stamp on top) and a continuous tone
 * in 10 ms chunks. Timers are drift-free (Ticker) so the offered load is exact.
 */
import * as wrtc from '@roamhq/wrtc';
import { createI420, fillRect, type I420Frame } from '../workers/media/engine/video/i420';
import { drawStamp, STAMP_HEIGHT_FRACTION } from './stamp';
import { benchNow, Ticker } from './ticker';

const { RTCVideoSource, RTCAudioSource } = wrtc.nonstandard;

export const SOURCE_WIDTH = 640;
export const SOURCE_HEIGHT = 360;
export const SOURCE_FPS = 15;
const SAMPLE_RATE = 48000;
const CHUNK = SAMPLE_RATE / 100;
/** Per-participant tone amplitude: 16 of them summed still stay below full scale. */
const TONE_AMPLITUDE = 0.05 * 32767;
const BOX = 80;

/** Where in the 15 fps frame interval participant `index` sends: spread as independent cameras are. */
export function senderPhaseMs(index: number): number {
  return (index * 17) % Math.round(1000 / SOURCE_FPS);
}

export class MediaSender {
  readonly videoSource = new RTCVideoSource();
  readonly audioSource = new RTCAudioSource();
  framesSent = 0;
  private readonly base: I420Frame;
  private readonly frame: I420Frame;
  private readonly videoTicker: Ticker;
  private readonly audioTicker: Ticker;
  private readonly tracks: MediaStreamTrack[] = [];
  private readonly samples = new Int16Array(CHUNK);
  private readonly audioData = {
    samples: this.samples,
    sampleRate: SAMPLE_RATE,
    bitsPerSample: 16,
    channelCount: 1,
    numberOfFrames: CHUNK,
  };
  private phase = 0;
  private readonly phaseStep: number;
  /**
   * Busy picture: the lower half of the luma gets fresh noise every frame (hard to compress,
   * the encoder uses all the bitrate it is given; the adaptive-downlink scenario needs that).
   */
  busy = false;

  constructor(readonly index: number) {
    this.base = createI420(SOURCE_WIDTH, SOURCE_HEIGHT);
    this.frame = createI420(SOURCE_WIDTH, SOURCE_HEIGHT);
    paintBackground(this.base, index);
    this.phaseStep = (2 * Math.PI * (300 + 40 * (index % 20))) / SAMPLE_RATE;
    this.videoTicker = new Ticker(1000 / SOURCE_FPS, () => this.sendFrame());
    this.audioTicker = new Ticker(10, () => this.sendAudio());
  }

  /** Adds the camera and microphone tracks to a peer connection (before the offer). */
  attach(pc: RTCPeerConnection): void {
    const video = this.videoSource.createTrack();
    const audio = this.audioSource.createTrack();
    this.tracks.push(video, audio);
    pc.addTrack(video);
    pc.addTrack(audio);
  }

  start(): void {
    // Stagger senders across the frame interval, as independent cameras would be.
    this.videoTicker.start(senderPhaseMs(this.index));
    this.audioTicker.start();
  }

  stop(): void {
    this.videoTicker.stop();
    this.audioTicker.stop();
    for (const t of this.tracks) t.stop();
  }

  private sendFrame(): void {
    const f = this.frame;
    f.data.set(this.base.data);
    // The box bounces through the lower part of the picture, below the stamp.
    const top = Math.ceil(SOURCE_HEIGHT * STAMP_HEIGHT_FRACTION) + 8;
    const span = SOURCE_WIDTH - BOX;
    const t = this.framesSent * 9 + this.index * 50;
    const x = Math.abs((t % (2 * span)) - span);
    const y = top + ((this.framesSent * 5) % (SOURCE_HEIGHT - top - BOX));
    fillRect(f, x, y, BOX, BOX, { y: 200, u: 90, v: 160 });
    if (this.busy) {
      const from = (SOURCE_HEIGHT >> 1) * SOURCE_WIDTH;
      for (let i = from; i < SOURCE_WIDTH * SOURCE_HEIGHT; i++) f.data[i] = (Math.random() * 256) | 0;
    }
    // Stamp last, right before handing the frame over: its time is the send time.
    drawStamp(f, benchNow());
    this.videoSource.onFrame(f);
    this.framesSent++;
  }

  private sendAudio(): void {
    for (let i = 0; i < CHUNK; i++) {
      this.samples[i] = Math.round(TONE_AMPLITUDE * Math.sin(this.phase));
      this.phase += this.phaseStep;
    }
    this.phase %= 2 * Math.PI;
    this.audioSource.onData(this.audioData);
  }
}

/** A diagonal luma gradient with a per-participant tint: static detail, cheap to encode once. */
function paintBackground(frame: I420Frame, index: number): void {
  const w = frame.width;
  const h = frame.height;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) frame.data[y * w + x] = 40 + ((x + y) * 140) / (w + h);
  }
  const cw = w >> 1;
  const ch = h >> 1;
  const u = 100 + ((index * 37) % 60);
  const v = 100 + ((index * 61) % 60);
  frame.data.fill(u, w * h, w * h + cw * ch);
  frame.data.fill(v, w * h + cw * ch, w * h + 2 * cw * ch);
}
