/**
 * Level of the received (mixed) audio, measured with WebAudio. The page shows it as a meter so
 * people can see sound arriving even with the speakers off; the same numbers are what the
 * end-to-end tests read, because a headless browser has no audio device and getStats'
 * totalAudioEnergy stays 0 there.
 */
const SAMPLE_EVERY_MS = 100;

export class AudioMeter {
  /** RMS of the last analysed window, 0..1. */
  level = 0;
  /** Sum of level² × seconds since the meter started: grows while sound arrives. */
  energy = 0;
  private readonly analyser: AnalyserNode;
  private readonly buffer: Float32Array<ArrayBuffer>;
  private source: MediaStreamAudioSourceNode | null = null;
  private sourceTrack: MediaStreamTrack | null = null;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly ctx: AudioContext) {
    this.analyser = new AnalyserNode(ctx, { fftSize: 2048 });
    this.buffer = new Float32Array(this.analyser.fftSize);
    this.timer = setInterval(() => this.sample(), SAMPLE_EVERY_MS);
  }

  /** Measures this stream's audio track (again after it changes, e.g. after a rejoin). */
  follow(stream: MediaStream): void {
    const track = stream.getAudioTracks()[0] ?? null;
    if (track === this.sourceTrack) return;
    this.source?.disconnect();
    this.source = null;
    this.sourceTrack = track;
    if (!track) return;
    // Analyser only: the <video> element plays the sound. (Chromium also needs that element to
    // hold the remote stream, or WebAudio receives silence from it.)
    this.source = new MediaStreamAudioSourceNode(this.ctx, { mediaStream: new MediaStream([track]) });
    this.source.connect(this.analyser);
  }

  close(): void {
    clearInterval(this.timer);
    this.source?.disconnect();
    void this.ctx.close().catch(() => undefined);
  }

  private sample(): void {
    if (!this.source) {
      this.level = 0;
      return;
    }
    this.analyser.getFloatTimeDomainData(this.buffer);
    let sum = 0;
    for (const v of this.buffer) sum += v * v;
    this.level = Math.sqrt(sum / this.buffer.length);
    this.energy += this.level * this.level * (SAMPLE_EVERY_MS / 1000);
  }
}
