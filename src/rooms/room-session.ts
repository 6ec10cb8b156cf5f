import type { ParticipantRole, RoomMediaSettings } from '../../workers/protocol/media';
import type { AppConfig } from '../config/config';
import { RoomFullError } from '../common/errors';
import type { ParticipantView } from '../../workers/protocol/signaling';
import type { ParticipantInfo, Room } from './rooms.schemas';

/** The in-memory state of a live room and the small rules over it (used by SessionsService). */
export interface ParticipantSession extends ParticipantInfo {
  /** The signaling connection that speaks for this participant. */
  connectionId: string;
  /** Declared at join, then set by its first offer: no video either way (audio-only cost). */
  audioOnly?: boolean;
  /** Its first offer was seen (audioOnly is then what the offer says). */
  offered?: boolean;
}

export interface RoomSession {
  roomId: string;
  settings: RoomMediaSettings;
  participants: Map<string, ParticipantSession>;
  activeSpeakerId: string | null;
}

export function newRoomSession(room: Room, config: AppConfig): RoomSession {
  return {
    roomId: room.id,
    settings: {
      layout: room.layout,
      fit: room.fit,
      pinnedParticipantId: room.pinnedParticipantId,
      maxParticipants: room.maxParticipants,
      iceServers: [...config.media.iceServers],
      maxSdpBytes: config.limits.maxSdpBytes,
      maxIceCandidatesPerParticipant: config.limits.maxIceCandidates,
      qualityRecoverMs: config.load.qualityRecoverMs,
      qualityShedding: config.load.qualityShedding,
      downlink: { ...config.load.downlink },
      audioOnlyStack: config.media.audioOnlyStack,
      videoEncode: config.media.videoEncode,
      avSync: config.media.avSync,
      downlinkVideoHoldMs: config.media.downlinkVideoHoldMs,
      peerVideoHoldMs: config.media.peerVideoHoldMs,
    },
    participants: new Map(),
    activeSpeakerId: null,
  };
}

/** Publishers up to the room's maximum; viewers as many again (the worker's mixer has 2× slots). */
export function checkCapacity(
  session: RoomSession,
  role: ParticipantRole,
  replacing?: ParticipantSession,
): void {
  const others = [...session.participants.values()].filter((p) => p !== replacing);
  const max = session.settings.maxParticipants;
  if (role === 'publisher' && others.filter((p) => p.role === 'publisher').length >= max) {
    throw new RoomFullError(`room ${session.roomId} is full (${max} publishers)`);
  }
  if (others.length >= max * 2)
    throw new RoomFullError(`room ${session.roomId} is full (${max * 2} participants)`);
}

/**
 * Runs async jobs one at a time per key, in call order; a failed job does not block the next.
 * Joins, leaves and kicks of one room go through it.
 */
export class KeyedSerialQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.tails.get(key) ?? Promise.resolve()).then(fn, fn);
    const settled = next.catch(() => undefined);
    this.tails.set(key, settled);
    void settled.then(() => {
      if (this.tails.get(key) === settled) this.tails.delete(key);
    });
    return next;
  }
}

export function info(p: ParticipantSession): ParticipantInfo {
  const { connectionId: _c, audioOnly: _a, offered: _o, ...rest } = p;
  return rest;
}

export function view(p: ParticipantSession): ParticipantView {
  return {
    participantId: p.participantId,
    identity: p.identity,
    displayName: p.displayName,
    role: p.role,
    audioMuted: p.audioMuted,
    videoMuted: p.videoMuted,
  };
}

export function pick(p: ParticipantSession) {
  return { participantId: p.participantId, identity: p.identity, displayName: p.displayName, role: p.role };
}

export function leftOf(p: ParticipantSession) {
  return { participantId: p.participantId, identity: p.identity };
}
