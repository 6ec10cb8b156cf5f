import { io } from 'socket.io-client';
import {
  request,
  SignalingError,
  type IceCandidateInit,
  type JoinedPayload,
  type McuSocket,
  type MediaKind,
  type ParticipantView,
  type Profile,
  type ProfileChangedEvent,
  type QualityChangedEvent,
  type UplinkQualityEvent,
} from './protocol';
import { sendLimits } from './uplink';

export type CallState = 'joining' | 'connected' | 'reconnecting' | 'left' | 'failed';

export interface CallOptions {
  roomId: string;
  token: string;
  profile: Profile;
  /** Camera and microphone; a missing kind is received only. */
  local: MediaStream;
  /** Server origin; the page's own origin when omitted. */
  url?: string;
}

interface CallEvents {
  state: (state: CallState, message: string) => void;
  /** The participant list, the active speaker or someone's mute state changed. */
  roster: () => void;
  /** The server muted or unmuted this participant. */
  'server-mute': (kind: MediaKind, muted: boolean) => void;
  'layout-changed': (layout: string) => void;
  /** The server reduced or restored this participant's video because it is overloaded. */
  'quality-changed': (d: QualityChangedEvent) => void;
  /** What this participant receives changed: its link (adaptive downlink), its request, server load. */
  'profile-changed': (d: ProfileChangedEvent) => void;
  /**
   * What this page sends of its camera changed: its served profile or the server's verdict on its
   * uplink (`uplink` null: nothing said yet); `width` is the picture width sent now.
   */
  'send-limits': (width: number, uplink: UplinkQualityEvent | null) => void;
  /** The room's recording changed state ('recording', 'finalizing', ...). */
  recording: (state: string) => void;
  /** remoteStream got a new track (joins, rejoins). */
  'remote-track': (track: MediaStreamTrack) => void;
}

/** Join errors that a retry cannot fix: the user needs a new link or another room. */
const FATAL_JOIN_ERRORS = new Set([
  'unauthorized',
  'forbidden',
  'not_found',
  'room_full',
  'bad_request',
  // Admission control: retrying at once would only add load; the page says to come back later.
  'server_busy',
]);
/** How long ICE may stay `disconnected` before we give the path up and rejoin. */
const ICE_GRACE_MS = 5000;
const REJOIN_DELAY_MS = 1500;

/**
 * One participant's session with the MCU: a socket.io connection for signaling and one
 * RTCPeerConnection that sends camera + microphone and receives the single mixed video and the
 * single mix-minus audio track.
 *
 * Recovery: the server forgets a participant whose socket drops, so after any loss (socket
 * reconnect, ICE `failed`, or ICE `disconnected` for longer than ICE_GRACE_MS) the session joins
 * again from scratch with a new peer connection, the same local tracks and the same profile.
 * `remoteStream` stays the same object throughout, so a <video> element bound to it keeps playing.
 */
export class CallSession {
  readonly remoteStream = new MediaStream();
  readonly participants = new Map<string, ParticipantView>();
  activeSpeakerId: string | null = null;
  selfId: string | null = null;
  roomName = '';
  state: CallState = 'joining';
  profile: Profile;
  /** Data saver: receive the mix-minus audio only (the video track stays, fed nothing). */
  dataSaver = false;
  /** Keep the profile whatever the link (no adaptive downlink). */
  pinned = false;
  /** The last profile-changed: what is received now and why (null: as asked, nothing said yet). */
  downlink: ProfileChangedEvent | null = null;
  /** The server's last word on how it receives this page's video (null: nothing said yet). */
  uplink: UplinkQualityEvent | null = null;
  /** The width of the picture sent now (after sendLimits), 0 before the camera is sent. */
  sendWidth = 0;
  readonly serverMuted: Record<MediaKind, boolean> = { audio: false, video: false };

  private socket: McuSocket | null = null;
  private pc: RTCPeerConnection | null = null;
  /** Remote candidates that arrive before the remote description is set. */
  private pendingIce: IceCandidateInit[] = [];
  /** Offers and answers run one at a time, in arrival order. */
  private negotiation: Promise<void> = Promise.resolve();
  private iceTimer: ReturnType<typeof setTimeout> | null = null;
  private joinAttempt = 0;
  private closed = false;
  private readonly listeners: { [E in keyof CallEvents]?: CallEvents[E][] } = {};

  constructor(private readonly opts: CallOptions) {
    this.profile = opts.profile;
  }

  on<E extends keyof CallEvents>(event: E, fn: CallEvents[E]): void {
    ((this.listeners[event] ??= []) as CallEvents[E][]).push(fn);
  }

  /** Connects and joins; resolves once joined, rejects on an error no retry can fix. */
  start(): Promise<void> {
    const socket: McuSocket = io(this.opts.url ?? '', {
      path: '/socket.io',
      transports: ['websocket'],
      // Short, capped back-off: a short network loss should end in a rejoin within seconds.
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
    });
    this.socket = socket;
    this.bindServerEvents(socket);
    return new Promise((resolve, reject) => {
      let first = true;
      socket.on('connect', () => {
        void this.join().then(
          () => {
            if (first) resolve();
            first = false;
          },
          (err: unknown) => {
            if (first) reject(err);
            first = false;
          },
        );
      });
      socket.on('connect_error', () => {
        if (!this.closed)
          this.setState(first ? 'joining' : 'reconnecting', 'cannot reach the server, retrying…');
      });
      socket.on('disconnect', (reason) => {
        this.dropPeer();
        if (this.closed) return;
        // After a server-side disconnect (kick, room deleted) socket.io does not reconnect by itself.
        if (reason === 'io server disconnect') this.fail('the server closed the connection');
        else this.setState('reconnecting', 'connection lost, reconnecting…');
      });
    });
  }

  setMuted(kind: MediaKind, muted: boolean): void {
    // A disabled track keeps its sender and sends black frames / silence: no renegotiation.
    const tracks = kind === 'audio' ? this.opts.local.getAudioTracks() : this.opts.local.getVideoTracks();
    for (const t of tracks) t.enabled = !muted;
  }

  isMuted(kind: MediaKind): boolean {
    const tracks = kind === 'audio' ? this.opts.local.getAudioTracks() : this.opts.local.getVideoTracks();
    return tracks.length === 0 || tracks.every((t) => !t.enabled);
  }

  /** Asks for another output profile; the server follows with an offer (answered in onServerOffer). */
  async setProfile(profile: Profile): Promise<void> {
    await this.setDownlink({ profile });
  }

  /**
   * Changes what this participant asks to receive: a profile, the data saver (audio only) and
   * whether the server may serve less while the link cannot carry it (`pinned`: it may not).
   */
  async setDownlink(d: { profile?: Profile; dataSaver?: boolean; pinned?: boolean }): Promise<void> {
    const previous = { profile: this.profile, dataSaver: this.dataSaver, pinned: this.pinned };
    // A rejoin meanwhile uses the new choice.
    this.profile = d.profile ?? this.profile;
    this.dataSaver = d.dataSaver ?? this.dataSaver;
    this.pinned = d.pinned ?? this.pinned;
    // Not in the room right now: the next join asks for it.
    if (!this.socket?.connected || !this.pc) return;
    try {
      await this.requestDownlink(this.socket);
    } catch (err) {
      Object.assign(this, previous);
      throw err;
    }
  }

  private requestDownlink(socket: McuSocket): Promise<null> {
    return request(socket, 'set-profile', {
      profile: this.dataSaver ? 'audio' : this.profile,
      pin: this.pinned,
    });
  }

  async leave(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const socket = this.socket;
    if (socket?.connected) await request(socket, 'leave', {}, 3000).catch(() => undefined);
    this.dropPeer();
    socket?.disconnect();
    this.setState('left', 'you left the call');
  }

  /** Decoded-video and transport numbers of the received mix, from getStats(). */
  async receiveStats(): Promise<{ framesDecoded: number; frameWidth: number; frameHeight: number }> {
    const out = { framesDecoded: 0, frameWidth: 0, frameHeight: 0 };
    if (!this.pc) return out;
    const report = await this.pc.getStats();
    report.forEach(
      (s: {
        type: string;
        kind?: string;
        framesDecoded?: number;
        frameWidth?: number;
        frameHeight?: number;
      }) => {
        if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
        out.framesDecoded += s.framesDecoded ?? 0;
        out.frameWidth = s.frameWidth ?? out.frameWidth;
        out.frameHeight = s.frameHeight ?? out.frameHeight;
      },
    );
    return out;
  }

  /**
   * Sizes the camera's encoding to what the server can use (public/src/uplink.ts): the tile of
   * the profile served, halved while the server says the uplink is weak. setParameters changes
   * the encoder in place: no renegotiation.
   */
  private async applySendLimits(): Promise<void> {
    const sender = this.pc?.getSenders().find((s) => s.track?.kind === 'video');
    const track = sender?.track;
    if (!sender || !track) return;
    const served = this.downlink?.profile ?? (this.dataSaver ? 'audio' : this.profile);
    const weak = this.uplink?.state === 'weak';
    const limits = sendLimits(track.getSettings().width ?? 0, served, weak, this.uplink?.kbps ?? null);
    const params = sender.getParameters();
    if (params.encodings.length === 0) return; // not negotiated yet: the next call applies them
    for (const e of params.encodings) {
      e.scaleResolutionDownBy = limits.scaleResolutionDownBy;
      e.maxBitrate = limits.maxBitrate;
    }
    try {
      await sender.setParameters(params);
      this.sendWidth = limits.width;
      this.emit('send-limits', limits.width, this.uplink);
    } catch (err) {
      console.warn('could not limit the camera encoding', err);
    }
  }

  get connectionState(): string {
    return this.pc?.connectionState ?? 'new';
  }

  private async join(): Promise<void> {
    const socket = this.socket;
    if (!socket || this.closed) return;
    const attempt = ++this.joinAttempt;
    this.dropPeer();
    let joined: JoinedPayload;
    try {
      joined = await request(socket, 'join', {
        roomId: this.opts.roomId,
        token: this.opts.token,
        profile: this.profile,
      });
    } catch (err) {
      if (err instanceof SignalingError && FATAL_JOIN_ERRORS.has(err.code)) {
        this.fail(err.message);
        throw err;
      }
      // Transient (timeout, unavailable, worker restarting): try again while the socket is up.
      this.setState('reconnecting', `join failed (${(err as Error).message}), retrying…`);
      setTimeout(() => {
        if (attempt === this.joinAttempt && socket.connected) void this.join().catch(() => undefined);
      }, REJOIN_DELAY_MS);
      return;
    }
    if (attempt !== this.joinAttempt || this.closed) return;
    this.selfId = joined.participantId;
    this.roomName = joined.room.name ?? joined.room.roomId;
    this.participants.clear();
    for (const p of joined.room.participants) this.participants.set(p.participantId, p);
    this.activeSpeakerId = joined.room.activeSpeakerId;
    const me = this.participants.get(joined.participantId);
    this.serverMuted.audio = me?.audioMuted ?? false;
    this.serverMuted.video = me?.videoMuted ?? false;
    this.emit('roster');
    await this.connectPeer(socket, joined);
  }

  private async connectPeer(socket: McuSocket, joined: JoinedPayload): Promise<void> {
    const pc = new RTCPeerConnection({ iceServers: joined.iceServers });
    this.pc = pc;
    this.uplink = null; // a new peer connection: the server judges its uplink afresh
    this.pendingIce = [];
    pc.onicecandidate = (e) => {
      const c = e.candidate;
      const candidate = c
        ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }
        : null;
      if (this.pc === pc) void request(socket, 'ice', { candidate }).catch(() => undefined);
    };
    pc.ontrack = (e) => this.useRemoteTrack(e.track);
    pc.onconnectionstatechange = () => this.onPeerState(pc);
    // One transceiver per kind: we send what we have and always receive the one mixed track.
    for (const kind of ['audio', 'video'] as const) {
      const track = this.opts.local.getTracks().find((t) => t.kind === kind);
      if (track) pc.addTransceiver(track, { direction: 'sendrecv', streams: [this.opts.local] });
      else pc.addTransceiver(kind, { direction: 'recvonly' });
    }
    await this.negotiate(async () => {
      await pc.setLocalDescription(await pc.createOffer());
      const answer = await request(socket, 'offer', { sdp: pc.localDescription?.sdp ?? '' });
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
      await this.flushIce(pc);
    });
    // The join request carries a video profile only: the data saver and a pin are asked after it.
    if (this.pc === pc && (this.dataSaver || this.pinned))
      await this.requestDownlink(socket).catch(() => undefined);
    if (this.pc === pc) await this.applySendLimits();
    if (this.pc === pc && pc.connectionState !== 'connected') this.setState('joining', 'connecting media…');
  }

  private bindServerEvents(socket: McuSocket): void {
    socket.on('ice', ({ candidate }) => {
      const pc = this.pc;
      if (!pc || !candidate) return;
      if (!pc.remoteDescription) this.pendingIce.push(candidate);
      else void pc.addIceCandidate(candidate).catch(() => undefined);
    });
    socket.on('offer', ({ sdp }) => void this.onServerOffer(socket, sdp));
    socket.on('participant-joined', (p) => {
      this.participants.set(p.participantId, p);
      this.emit('roster');
    });
    socket.on('participant-left', ({ participantId }) => {
      this.participants.delete(participantId);
      if (this.activeSpeakerId === participantId) this.activeSpeakerId = null;
      this.emit('roster');
    });
    socket.on('active-speaker', ({ participantId }) => {
      this.activeSpeakerId = participantId;
      this.emit('roster');
    });
    socket.on('muted-by-server', ({ participantId, kind, muted }) => {
      const p = this.participants.get(participantId);
      if (p)
        this.participants.set(participantId, {
          ...p,
          [kind === 'audio' ? 'audioMuted' : 'videoMuted']: muted,
        });
      if (participantId === this.selfId) {
        this.serverMuted[kind] = muted;
        this.emit('server-mute', kind, muted);
      }
      this.emit('roster');
    });
    socket.on('layout-changed', (d) => this.emit('layout-changed', d.layout));
    socket.on('quality-changed', (d) => this.emit('quality-changed', d));
    socket.on('profile-changed', (d) => {
      this.downlink = d;
      this.emit('profile-changed', d);
      void this.applySendLimits();
    });
    socket.on('uplink-quality', (d) => {
      this.uplink = d;
      void this.applySendLimits();
    });
    socket.on('kicked', ({ message }) => this.fail(`removed from the room: ${message}`));
    socket.on('recording-state', ({ state }) => this.emit('recording', state));
    socket.on('room-ended', ({ reason, message }) => {
      if (reason !== 'media-worker-died' && reason !== 'media-node-lost')
        return this.fail(`the room ended: ${message}`);
      // The server restarts the room's media worker (or places the room on a live node); the
      // socket stays and may join again.
      this.dropPeer();
      this.setState('reconnecting', 'the media server restarted, rejoining…');
      setTimeout(() => void this.join().catch(() => undefined), REJOIN_DELAY_MS);
    });
    socket.on('error', ({ message }) => console.warn('signaling error', message));
  }

  private async onServerOffer(socket: McuSocket, sdp: string): Promise<void> {
    const pc = this.pc;
    if (!pc) return;
    await this.negotiate(async () => {
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await this.flushIce(pc);
      await pc.setLocalDescription(await pc.createAnswer());
      await request(socket, 'answer', { sdp: pc.localDescription?.sdp ?? '' });
    });
  }

  /** Runs one offer/answer exchange after the previous one; a failure ends in a rejoin or, if hopeless, in failed. */
  private negotiate(step: () => Promise<void>): Promise<void> {
    const run = this.negotiation.then(step).catch((err: unknown) => {
      console.warn('negotiation failed', err);
      if (err instanceof SignalingError && (FATAL_JOIN_ERRORS.has(err.code) || err.code === 'invalid_sdp')) {
        this.fail(`the server refused the media session: ${err.message}`);
      } else this.scheduleRejoin('negotiation failed');
    });
    this.negotiation = run;
    return run;
  }

  private async flushIce(pc: RTCPeerConnection): Promise<void> {
    const queued = this.pendingIce.splice(0);
    for (const c of queued) await pc.addIceCandidate(c).catch(() => undefined);
  }

  private useRemoteTrack(track: MediaStreamTrack): void {
    // Swap rather than add, so the element keeps exactly one video and one audio track.
    for (const old of this.remoteStream.getTracks())
      if (old.kind === track.kind) this.remoteStream.removeTrack(old);
    this.remoteStream.addTrack(track);
    // MediaStream fires no `addtrack` for tracks added by script, so say it ourselves.
    this.emit('remote-track', track);
  }

  private onPeerState(pc: RTCPeerConnection): void {
    if (pc !== this.pc) return;
    if (this.iceTimer) clearTimeout(this.iceTimer);
    this.iceTimer = null;
    switch (pc.connectionState) {
      case 'connected':
        this.setState('connected', 'in the call');
        break;
      case 'disconnected':
        // ICE often recovers by itself from a blip; give it a moment before starting over.
        this.setState('reconnecting', 'media interrupted…');
        this.iceTimer = setTimeout(() => this.scheduleRejoin('media path lost'), ICE_GRACE_MS);
        break;
      case 'failed':
        this.scheduleRejoin('media path failed');
        break;
    }
  }

  /** Leaves and joins again on the same socket (used when media broke but signaling did not). */
  private scheduleRejoin(why: string): void {
    const socket = this.socket;
    if (this.closed || !socket?.connected) return;
    this.setState('reconnecting', `${why}, rejoining…`);
    this.dropPeer();
    void request(socket, 'leave', {}, 3000)
      .catch(() => undefined)
      .then(() => this.join())
      .catch(() => undefined);
  }

  private dropPeer(): void {
    if (this.iceTimer) clearTimeout(this.iceTimer);
    this.iceTimer = null;
    const pc = this.pc;
    this.pc = null;
    if (pc) {
      pc.onconnectionstatechange = null;
      pc.onicecandidate = null;
      pc.ontrack = null;
      pc.close();
    }
  }

  private fail(message: string): void {
    if (this.closed) return;
    this.closed = true;
    this.dropPeer();
    this.socket?.disconnect();
    this.setState('failed', message);
  }

  private setState(state: CallState, message: string): void {
    this.state = state;
    this.emit('state', state, message);
  }

  private emit<E extends keyof CallEvents>(event: E, ...args: Parameters<CallEvents[E]>): void {
    for (const fn of this.listeners[event] ?? []) (fn as (...a: Parameters<CallEvents[E]>) => void)(...args);
  }
}
