import type {
  MediaMethod,
  MediaNotification,
  MediaRequest,
  MediaRequestMap,
  WorkerToParentMessage,
} from '../protocol/media';
import { serializeError } from '../kernel/error-serialization';
import { BadRequestError, ConflictError } from '../kernel/errors';
import { Logger, setLogLevel } from '../kernel/logger';
import { MediaRoom } from './media-room';

type Handler<M extends MediaMethod> = (
  data: MediaRequestMap[M]['req'],
) => Promise<MediaRequestMap[M]['res']> | MediaRequestMap[M]['res'];

/**
 * Child side of the channel: dispatches the parent's requests to the room and sends
 * notifications back. One runtime hosts one room.
 */
export class WorkerRuntime {
  private room: MediaRoom | null = null;
  private log = new Logger('media-worker');
  private closing = false;

  constructor(
    private readonly send: (m: WorkerToParentMessage) => void,
    private readonly exit: (code: number) => void,
  ) {}

  private readonly handlers: { [M in MediaMethod]: Handler<M> } = {
    'room.init': (d) => {
      if (this.room) throw new ConflictError('room already initialised');
      setLogLevel(d.logLevel);
      this.log = new Logger('media-worker', { roomId: d.roomId });
      this.room = new MediaRoom(d.roomId, d.settings, this.notify, this.log, d.network);
      this.log.info('room initialised', {
        layout: d.settings.layout,
        maxParticipants: d.settings.maxParticipants,
        announcedIp: d.network.announcedIp,
        portRange: d.network.portRange,
      });
      return { pid: process.pid };
    },
    'room.update': (d) => this.requireRoom().update(d),
    'room.stats': () => this.requireRoom().stats(),
    'participant.join': (d) => this.requireRoom().join(d),
    'participant.offer': async (d) => ({
      sdp: await this.requireRoom().offer(d.participantId, d.sdp, d.waitForCandidates ?? false),
    }),
    'participant.answer': (d) => this.requireRoom().answer(d.participantId, d.sdp),
    'participant.ice': (d) => this.requireRoom().addIce(d.participantId, d.candidate),
    'participant.setProfile': (d) =>
      this.requireRoom().setProfile(d.participantId, d.profile, d.pin ?? false),
    'participant.setMuted': (d) => this.requireRoom().setMuted(d.participantId, d.kind, d.muted),
    'participant.leave': (d) => this.requireRoom().leave(d.participantId),
    'recording.start': async (d) => ({ startedAt: await this.requireRoom().startRecording(d) }),
    'recording.stop': (d) => this.requireRoom().stopRecording(d.recordingId),
    'egress.start': (d) => this.requireRoom().egress.start(d),
    'egress.stop': (d) => this.requireRoom().egress.stop(d.egressId),
    'ingress.pull': (d) => this.requireRoom().ingressPull(d),
    'ingress.listen': async (d) => ({ port: await this.requireRoom().ingressListen(d.participantId) }),
    'worker.close': async () => {
      // Answer first, then exit on the next turn so the parent sees the response.
      setImmediate(() => void this.shutdown(0));
    },
  };

  ready(): void {
    this.send({ kind: 'ready', pid: process.pid });
  }

  async handle(msg: MediaRequest): Promise<void> {
    if (!msg || msg.kind !== 'request' || typeof msg.id !== 'number') return;
    try {
      // The parent is trusted to send catalogue methods; an older or newer one may not.
      if (!Object.hasOwn(this.handlers, msg.method))
        throw new BadRequestError(`unknown method ${String(msg.method)}`);
      const data = await this.dispatch(msg);
      this.send({ kind: 'response', id: msg.id, ok: true, data: data ?? null });
    } catch (err) {
      this.log.debug('request failed', { method: msg.method, err });
      this.send({ kind: 'response', id: msg.id, ok: false, error: serializeError(err) });
    }
  }

  /** Closes peers and the recorder (its last segment is flushed), then exits. */
  async shutdown(code: number): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    try {
      await this.room?.close();
    } catch (err) {
      this.log.error('error while closing the room', { err });
    }
    this.log.info('media worker exiting', { code });
    this.exit(code);
  }

  private dispatch<M extends MediaMethod>(msg: MediaRequest<M>): ReturnType<Handler<M>> {
    const handler: Handler<M> = this.handlers[msg.method];
    return handler(msg.data);
  }

  private readonly notify = (n: MediaNotification): void => {
    this.send({ kind: 'notification', ...n });
  };

  private requireRoom(): MediaRoom {
    if (!this.room) throw new ConflictError('room.init must come first');
    return this.room;
  }
}
