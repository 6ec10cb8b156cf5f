import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import type { Logger } from '../logger';
import { decodeAmf0, encodeAmf0, type Amf0Object, type Amf0Value } from './amf0';

/** Where an accepted publish's media goes: an FLV stream (header, then audio/video/script tags). */
export interface PublishSink {
  write(flv: Buffer): void;
  /** The publisher stopped or went away. */
  end(reason: string): void;
}

export interface PublisherHandle {
  close(reason: string): void;
}

/** A decision on a publish: a sink for its media, or why it is refused. */
export type PublishDecision = { sink: PublishSink } | { refuse: string };

export interface RtmpPublishServerOptions {
  /**
   * Called once per publish with the application ("live") and the stream key; `publisher.close`
   * ends that publisher's connection later (the ingress was deleted, its relay failed).
   */
  onPublish(app: string, streamKey: string, remote: string, publisher: PublisherHandle): PublishDecision;
  logger: Logger;
  /** Largest single RTMP message accepted (a keyframe of a high-rate stream is < 2 MB). */
  maxMessageBytes?: number;
  /** A connection that has not started publishing within this is closed. */
  handshakeTimeoutMs?: number;
  /** A publisher that sends nothing for this long is gone. */
  idleTimeoutMs?: number;
}

const HANDSHAKE_SIZE = 1536;
const RTMP_VERSION = 3;
const OUT_CHUNK_SIZE = 4096;
const WINDOW_ACK_SIZE = 5_000_000;

/** RTMP message types (Adobe RTMP specification, 5.4 and 7.1). */
const MSG = {
  setChunkSize: 1,
  abort: 2,
  ack: 3,
  userControl: 4,
  windowAckSize: 5,
  setPeerBandwidth: 6,
  audio: 8,
  video: 9,
  dataAmf3: 15,
  commandAmf3: 17,
  dataAmf0: 18,
  commandAmf0: 20,
} as const;

/**
 * A publish-only RTMP server: enough of the protocol for OBS, ffmpeg and hardware encoders to
 * push a stream (handshake, chunk streams, connect / createStream / publish), and every publish
 * decided by `onPublish` from its stream key before any media is accepted. The media leaves as
 * FLV, which ffmpeg reads directly (`-f flv -i pipe:0`).
 *
 * Why our own and not `ffmpeg -listen 1`: ffmpeg's RTMP server takes any stream key (it only
 * logs "Unexpected stream") and serves one connection per process and port; keys must be
 * checked, and one port must serve every ingress of a node.
 */
export class RtmpPublishServer {
  private readonly server: net.Server;
  private readonly sessions = new Set<RtmpSession>();

  constructor(private readonly opts: RtmpPublishServerOptions) {
    this.server = net.createServer((socket) => {
      const s = new RtmpSession(socket, opts, () => this.sessions.delete(s));
      this.sessions.add(s);
    });
    this.server.on('error', (err) => opts.logger.error('RTMP server error', { err }));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.destroy('server closing');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface ChunkStreamState {
  timestamp: number;
  /** The last header's timestamp field: what a type-3 header adds for a new message. */
  delta: number;
  length: number;
  type: number;
  streamId: number;
  extended: boolean;
  parts: Buffer[];
  received: number;
}

class RtmpSession {
  private buf: Buffer = Buffer.alloc(0);
  private phase: 'c0c1' | 'c2' | 'chunks' | 'closed' = 'c0c1';
  private inChunkSize = 128;
  private readonly streams = new Map<number, ChunkStreamState>();
  private ackWindow = 0;
  private bytesIn = 0;
  private lastAck = 0;
  private app = '';
  private sink: PublishSink | null = null;
  private readonly log: Logger;
  private readonly maxMessage: number;
  private readonly handshakeTimer: NodeJS.Timeout;

  constructor(
    private readonly socket: net.Socket,
    private readonly opts: RtmpPublishServerOptions,
    private readonly onClose: () => void,
  ) {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log = opts.logger.child({ rtmpClient: remote });
    this.maxMessage = opts.maxMessageBytes ?? 8 * 1024 * 1024;
    socket.setNoDelay(true);
    socket.setTimeout(opts.idleTimeoutMs ?? 20_000, () => this.destroy('idle'));
    this.handshakeTimer = setTimeout(() => {
      if (!this.sink) this.destroy('no publish in time');
    }, opts.handshakeTimeoutMs ?? 10_000);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (err) => this.log.debug('RTMP socket error', { err }));
    socket.on('close', () => this.finish('connection closed'));
  }

  destroy(reason: string): void {
    this.finish(reason);
    this.socket.destroy();
  }

  private finish(reason: string): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    clearTimeout(this.handshakeTimer);
    if (this.sink) {
      const sink = this.sink;
      this.sink = null;
      sink.end(reason);
    }
    this.onClose();
  }

  private onData(d: Buffer): void {
    if (this.phase === 'closed') return;
    this.bytesIn += d.length;
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    try {
      this.parse();
    } catch (err) {
      this.log.warn('RTMP protocol error; closing', { err });
      this.destroy('protocol error');
      return;
    }
    if (this.ackWindow > 0 && this.bytesIn - this.lastAck >= this.ackWindow) {
      this.lastAck = this.bytesIn;
      const b = Buffer.alloc(4);
      b.writeUInt32BE(this.bytesIn >>> 0);
      this.send(2, MSG.ack, 0, b);
    }
  }

  private parse(): void {
    let pos = 0;
    for (;;) {
      if (this.phase === 'c0c1') {
        if (this.buf.length - pos < 1 + HANDSHAKE_SIZE) break;
        if (this.buf[pos] !== RTMP_VERSION) throw new Error(`RTMP version ${this.buf[pos]}`);
        const c1 = this.buf.subarray(pos + 1, pos + 1 + HANDSHAKE_SIZE);
        pos += 1 + HANDSHAKE_SIZE;
        // Simple handshake: S1 = time, zero version (no digest), random; S2 echoes C1.
        const s1 = randomBytes(HANDSHAKE_SIZE);
        s1.writeUInt32BE(0, 0);
        s1.writeUInt32BE(0, 4);
        const s2 = Buffer.from(c1);
        s2.writeUInt32BE(0, 4);
        this.socket.write(Buffer.concat([Buffer.from([RTMP_VERSION]), s1, s2]));
        this.phase = 'c2';
      } else if (this.phase === 'c2') {
        if (this.buf.length - pos < HANDSHAKE_SIZE) break;
        pos += HANDSHAKE_SIZE;
        this.phase = 'chunks';
      } else if (this.phase === 'chunks') {
        const next = this.readChunk(pos);
        if (next < 0) break;
        pos = next;
      } else {
        return;
      }
    }
    this.buf = pos === 0 ? this.buf : Buffer.from(this.buf.subarray(pos));
  }

  /** Reads one chunk at `p`; returns the position after it, or -1 if it is not all there yet. */
  private readChunk(p: number): number {
    const b = this.buf;
    const avail = b.length - p;
    if (avail < 1) return -1;
    const fmt = b[p] >> 6;
    let csid = b[p] & 0x3f;
    let hdr = 1;
    if (csid === 0) {
      if (avail < 2) return -1;
      csid = 64 + b[p + 1];
      hdr = 2;
    } else if (csid === 1) {
      if (avail < 3) return -1;
      csid = 64 + b[p + 1] + b[p + 2] * 256;
      hdr = 3;
    }
    const mh = [11, 7, 3, 0][fmt];
    if (avail < hdr + mh) return -1;
    let st = this.streams.get(csid);
    if (!st) {
      st = {
        timestamp: 0,
        delta: 0,
        length: 0,
        type: 0,
        streamId: 0,
        extended: false,
        parts: [],
        received: 0,
      };
      this.streams.set(csid, st);
    }
    const q = p + hdr;
    let tsField = 0;
    let length = st.length;
    let type = st.type;
    let streamId = st.streamId;
    if (fmt <= 2) tsField = b.readUIntBE(q, 3);
    if (fmt <= 1) {
      length = b.readUIntBE(q + 3, 3);
      type = b[q + 6];
    }
    if (fmt === 0) streamId = b.readUInt32LE(q + 7);
    const extended = fmt <= 2 ? tsField === 0xffffff : st.extended;
    let off = q + mh;
    if (extended) {
      if (b.length - off < 4) return -1;
      tsField = b.readUInt32BE(off);
      off += 4;
    }
    if (length > this.maxMessage) throw new Error(`RTMP message of ${length} bytes`);
    const newMessage = st.received === 0 || fmt !== 3;
    const size = Math.min(this.inChunkSize, length - (newMessage ? 0 : st.received));
    if (b.length - off < size) return -1;

    // Only now that the whole chunk is here does the state change.
    if (newMessage && st.received > 0) st.parts = []; // a new header aborts a partial message
    if (newMessage) st.received = 0;
    if (fmt === 0) {
      st.timestamp = tsField;
      st.delta = tsField;
    } else if (fmt === 1 || fmt === 2) {
      st.delta = tsField;
      st.timestamp += tsField;
    } else if (newMessage) {
      st.timestamp += st.delta;
    }
    st.length = length;
    st.type = type;
    st.streamId = streamId;
    st.extended = extended;
    st.parts.push(b.subarray(off, off + size));
    st.received += size;
    if (st.received >= st.length) {
      const body = st.parts.length === 1 ? Buffer.from(st.parts[0]) : Buffer.concat(st.parts);
      st.parts = [];
      st.received = 0;
      this.onMessage(st.type, st.streamId, st.timestamp, body);
    }
    return off + size;
  }

  private onMessage(type: number, streamId: number, timestamp: number, body: Buffer): void {
    switch (type) {
      case MSG.setChunkSize: {
        const n = body.readUInt32BE(0) & 0x7fffffff;
        if (n < 1 || n > 16 * 1024 * 1024) throw new Error(`chunk size ${n}`);
        this.inChunkSize = n;
        return;
      }
      case MSG.abort:
        this.streams.get(body.readUInt32BE(0))?.parts.splice(0);
        return;
      case MSG.windowAckSize:
        this.ackWindow = body.readUInt32BE(0);
        return;
      case MSG.commandAmf3:
        this.onCommand(decodeAmf0(body.subarray(1)), streamId);
        return;
      case MSG.commandAmf0:
        this.onCommand(decodeAmf0(body), streamId);
        return;
      case MSG.audio:
      case MSG.video:
        if (this.sink && body.length > 0) this.sink.write(flvTag(type, timestamp, body));
        return;
      case MSG.dataAmf0:
        if (this.sink) this.sink.write(flvTag(MSG.dataAmf0, timestamp, stripSetDataFrame(body)));
        return;
      default:
        return; // acks, user control, AMF3 data: nothing to do for a publish
    }
  }

  private onCommand(values: Amf0Value[], streamId: number): void {
    const [name, txId] = values;
    const tx = typeof txId === 'number' ? txId : 0;
    switch (name) {
      case 'connect': {
        const cmd = (values[2] ?? {}) as Amf0Object;
        this.app = typeof cmd.app === 'string' ? cmd.app.replace(/\/$/, '') : '';
        const ws = Buffer.alloc(4);
        ws.writeUInt32BE(WINDOW_ACK_SIZE);
        this.send(2, MSG.windowAckSize, 0, ws);
        const bw = Buffer.alloc(5);
        bw.writeUInt32BE(WINDOW_ACK_SIZE);
        bw[4] = 2; // dynamic
        this.send(2, MSG.setPeerBandwidth, 0, bw);
        const cs = Buffer.alloc(4);
        cs.writeUInt32BE(OUT_CHUNK_SIZE);
        this.send(2, MSG.setChunkSize, 0, cs);
        this.outChunkSize = OUT_CHUNK_SIZE;
        this.command(
          0,
          '_result',
          tx,
          { fmsVer: 'FMS/3,0,1,123', capabilities: 31 },
          {
            level: 'status',
            code: 'NetConnection.Connect.Success',
            description: 'Connection succeeded.',
            objectEncoding: 0,
          },
        );
        return;
      }
      case 'releaseStream':
      case 'FCPublish':
        this.command(0, '_result', tx, null, undefined);
        return;
      case 'createStream':
        this.command(0, '_result', tx, null, 1);
        return;
      case 'publish': {
        const raw = typeof values[3] === 'string' ? values[3] : '';
        const key = raw.split('?')[0];
        const remote = `${this.socket.remoteAddress}:${this.socket.remotePort}`;
        const decision = this.opts.onPublish(this.app, key, remote, {
          close: (reason) => this.destroy(reason),
        });
        if ('refuse' in decision) {
          this.log.warn('RTMP publish refused', { app: this.app, reason: decision.refuse });
          this.command(streamId, 'onStatus', 0, null, {
            level: 'error',
            code: 'NetStream.Publish.BadName',
            description: decision.refuse,
          });
          this.socket.end();
          this.finish('refused');
          return;
        }
        this.sink = decision.sink;
        clearTimeout(this.handshakeTimer);
        this.sink.write(FLV_HEADER);
        this.command(streamId, 'onStatus', 0, null, {
          level: 'status',
          code: 'NetStream.Publish.Start',
          description: 'Publishing.',
        });
        this.log.info('RTMP publish started', { app: this.app });
        return;
      }
      case 'FCUnpublish':
      case 'deleteStream':
      case 'closeStream':
        if (this.sink) {
          const sink = this.sink;
          this.sink = null;
          sink.end('unpublished');
        }
        return;
      default:
        return;
    }
  }

  private outChunkSize = 128;

  private command(streamId: number, name: string, tx: number, ...args: Amf0Value[]): void {
    this.send(streamId === 0 ? 3 : 5, MSG.commandAmf0, streamId, encodeAmf0(name, tx, ...args));
  }

  /** One message as type-0 chunk then type-3 continuation chunks of outChunkSize. */
  private send(csid: number, type: number, streamId: number, payload: Buffer): void {
    if (this.socket.destroyed) return;
    const header = Buffer.alloc(12);
    header[0] = csid & 0x3f;
    header.writeUIntBE(0, 1, 3);
    header.writeUIntBE(payload.length, 4, 3);
    header[7] = type;
    header.writeUInt32LE(streamId, 8);
    const parts: Buffer[] = [header];
    for (let off = 0; off < payload.length; off += this.outChunkSize) {
      if (off > 0) parts.push(Buffer.from([0xc0 | (csid & 0x3f)]));
      parts.push(payload.subarray(off, off + this.outChunkSize));
    }
    this.socket.write(Buffer.concat(parts));
  }
}

/** FLV file header (audio + video) and PreviousTagSize0. */
export const FLV_HEADER = Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x05, 0, 0, 0, 9, 0, 0, 0, 0]);

function flvTag(type: number, timestamp: number, data: Buffer): Buffer {
  const tag = Buffer.alloc(11 + data.length + 4);
  tag[0] = type;
  tag.writeUIntBE(data.length, 1, 3);
  tag.writeUIntBE(timestamp & 0xffffff, 4, 3);
  tag[7] = (timestamp >>> 24) & 0xff;
  data.copy(tag, 11);
  tag.writeUInt32BE(11 + data.length, 11 + data.length);
  return tag;
}

/** An RTMP data message is `@setDataFrame, onMetaData, {…}`; in FLV it is `onMetaData, {…}`. */
function stripSetDataFrame(body: Buffer): Buffer {
  const marker = encodeAmf0('@setDataFrame');
  return body.subarray(0, marker.length).equals(marker) ? body.subarray(marker.length) : body;
}
