import * as net from 'node:net';
import type { ParticipantSnapshot, Profile } from '../../protocol/media';
import { ConflictError } from '../../kernel/errors';
import type { Logger } from '../../kernel/logger';
import { FRAME_SAMPLES, JitterBuffer, SAMPLE_RATE } from '../engine/audio/jitter-buffer';
import type { I420Frame } from '../engine/video/i420';
import { memberSnapshot, type RoomMember } from '../room-member';
import { IngressDecoder, type PullInput } from './ingress-decoder';

/** Decoded ingest pictures: the size of the `standard` composite's largest tile. */
export const INGRESS_WIDTH = 640;
export const INGRESS_HEIGHT = 360;

/**
 * A stream pushed into the room (RTMP): a participant of role `ingress` that sends but does not
 * listen. Its stream arrives as FLV on a loopback port (the control plane's RTMP server relays
 * an accepted publish there) and is decoded by ffmpeg at its own pace; the room's clock takes
 * the latest picture and 10 ms of audio like any participant's. When the publisher goes away
 * the participant stays: its last picture shows, then the placeholder (MediaRoom's stale
 * rule), and the next publish takes over.
 */
export class IngressMember implements RoomMember {
  readonly role = 'ingress' as const;
  profile: Profile = 'standard';
  audioMuted = false;
  videoMuted = false;
  latestFrame: I420Frame | null = null;
  lastFrameAt = 0;
  /** An ingested stream is not lip-synced here: every output shows its latest picture. */
  frameFor(): I420Frame | null {
    return this.latestFrame;
  }
  hasAudio = false;
  hasVideo = false;
  readonly jitter = new JitterBuffer();
  private readonly out = new Int16Array(FRAME_SAMPLES);
  private server: net.Server | null = null;
  private port = 0;
  private conn: net.Socket | null = null;
  private decoder: IngressDecoder | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  publishes = 0;

  constructor(
    readonly id: string,
    readonly displayName: string,
    private readonly log: Logger,
  ) {}

  get audioOutput(): Int16Array {
    return this.out;
  }

  /** An ingress hears nothing: its mix-minus is computed and dropped. */
  sendAudio(): void {}

  snapshot(): ParticipantSnapshot {
    return memberSnapshot(this, this.conn || this.decoder ? 'connected' : 'new');
  }

  /** The loopback port that takes this ingress's FLV; one connection (one publish) at a time. */
  async listen(): Promise<number> {
    if (this.server) return this.port;
    const server = net.createServer((sock) => this.onConnection(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  /**
   * Pulls the stream from a URL instead of taking a push. A source that fails or stalls (no data
   * for 5 s) is opened again after 1, 2, 4, then every 5 s; a file or HTTP source that simply
   * ended without `loop` stays ended (its last picture, then the placeholder).
   */
  pull(source: PullInput): void {
    const { realtime, loop } = source;
    if (this.decoder || this.conn) throw new ConflictError(`ingress ${this.id} already has a source`);
    let attempt = 0;
    const start = (): void => {
      if (this.closed) return;
      this.publishes++;
      const log = this.log.child({ pull: this.publishes });
      const decoder = this.newDecoder({ kind: 'url', ...source }, log, (code) => {
        this.decoder = null;
        this.hasAudio = false;
        this.jitter.reset();
        const finished = code === 0 && realtime && !loop;
        if (this.closed || finished) return;
        const delay = [1000, 2000, 4000, 5000][Math.min(attempt++, 3)];
        log.warn('ingress source lost; reopening', { delayMs: delay, code });
        this.retry = setTimeout(start, delay);
      });
      decoder.start();
      // Frames arriving again mean the source is back: the backoff starts over.
      const reset = setInterval(() => {
        if (decoder.framesDecoded > 0) {
          attempt = 0;
          clearInterval(reset);
        }
      }, 500);
      reset.unref();
      this.decoder = decoder;
      log.info('ingress pull started', { pid: decoder.pid });
    };
    start();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.server?.close();
    this.conn?.destroy();
    void this.decoder?.stop();
  }

  private newDecoder(
    input: ConstructorParameters<typeof IngressDecoder>[0]['input'],
    log: Logger,
    onExit: (code: number | null, signal: NodeJS.Signals | null) => void,
  ): IngressDecoder {
    return new IngressDecoder({
      input,
      width: INGRESS_WIDTH,
      height: INGRESS_HEIGHT,
      logger: log,
      onFrame: (f) => {
        this.latestFrame = f;
        this.lastFrameAt = performance.now();
        this.hasVideo = true;
      },
      onAudio: (s) => {
        this.jitter.push(s, SAMPLE_RATE, 1);
        this.hasAudio = true;
      },
      onExit: (code, signal, stderr) => {
        log.warn('ingress decoder exited', { code, signal, stderr });
        onExit(code, signal);
      },
    });
  }

  private onConnection(sock: net.Socket): void {
    if (this.closed || this.conn) {
      sock.destroy(); // the control plane admits one publish per ingress
      return;
    }
    this.conn = sock;
    this.publishes++;
    const log = this.log.child({ publish: this.publishes });
    const decoder = this.newDecoder({ kind: 'pipe' }, log, () => sock.destroy());
    this.decoder = decoder;
    decoder.start();
    log.info('ingress publish connected', { pid: decoder.pid });
    sock.on('data', (d: Buffer) => {
      // The publisher's TCP window is the back-pressure when ffmpeg falls behind.
      if (!decoder.write(d)) sock.pause();
    });
    decoder.onDrain(() => sock.resume());
    sock.on('error', (err) => log.debug('ingress relay socket error', { err }));
    sock.on('close', () => {
      if (this.conn === sock) this.conn = null;
      if (this.decoder === decoder) this.decoder = null;
      // No audio until the next publish: the mixer then skips it instead of counting underruns.
      this.hasAudio = false;
      this.jitter.reset();
      void decoder.stop();
      log.info('ingress publish ended', { frames: decoder.framesDecoded });
    });
  }
}
