/**
 * The public REST API as the admin page uses it (see docs/api.md). One function per route, so a
 * changed route is a one-line change here. Every call carries `Authorization: Bearer <key>`.
 */
import type {
  EgressState,
  EgressType,
  LayoutKind,
  MediaKind,
  ParticipantRole,
  Profile,
  RtspTransport,
} from '../../workers/protocol/media';
import type { CaptureLosses, RecordingFileKind, RecordingState } from '../../workers/protocol/recording';

export interface RoomSummary {
  id: string;
  name: string;
  layout: LayoutKind;
  pinnedParticipantId: string | null;
  defaultProfile: Profile;
  active: boolean;
  participantCount: number;
}

export interface Participant {
  participantId: string;
  identity: string;
  displayName: string;
  role: ParticipantRole;
  profile: Profile;
  audioMuted: boolean;
  videoMuted: boolean;
}

export interface RoomDetail extends RoomSummary {
  activeSpeakerId: string | null;
  participants: Participant[];
}

export interface Recording {
  id: string;
  roomId: string;
  state: RecordingState;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
  progress?: number;
  failureReason?: string;
  media?: { durationSec: number; width: number; height: number; sizeBytes: number };
  files: { name: string; kind: RecordingFileKind; sizeBytes: number }[];
  /** What the capture could not keep on an overloaded server (set when it ended). */
  captureLosses?: CaptureLosses;
}

/** A live stream out of a room (docs/egress.md). */
export interface Egress {
  id: string;
  roomId: string;
  type: EgressType;
  state: EgressState;
  profile: Profile;
  layout: LayoutKind | null;
  /** RTMP: the target (holds the platform's stream key). */
  url?: string;
  /** HLS: the playlist's path on this server, playable without the admin key. */
  playlistUrl?: string;
  error: string | null;
  createdAt: string;
  endedAt: string | null;
}

/** A stream into a room, shown as a participant of role `ingress` (docs/ingress.md). */
export interface Ingress {
  id: string;
  roomId: string;
  type: 'rtmp' | 'url';
  displayName: string;
  participantId: string;
  /** rtmp: where to push (rtmp://HOST:PORT/live/<stream key>); url: the source pulled. */
  url: string;
  loop?: boolean;
  rtspTransport?: RtspTransport;
  /** failed: lost with the cluster node hosting its room (`error` says why). */
  state: 'waiting' | 'publishing' | 'ended' | 'failed';
  error?: string;
  createdAt: string;
}

export type StartEgress =
  { type: 'hls'; profile?: Profile } | { type: 'rtmp'; url: string; profile?: Profile };
export type StartIngress =
  | { type: 'rtmp'; displayName: string }
  | { type: 'url'; displayName: string; url: string; loop?: boolean; rtspTransport?: RtspTransport };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class AdminApi {
  constructor(private readonly key: string) {}

  listRooms(): Promise<{ rooms: RoomSummary[] }> {
    return this.json('GET', '/api/rooms');
  }
  getRoom(id: string): Promise<RoomDetail> {
    return this.json('GET', `/api/rooms/${enc(id)}`);
  }
  createRoom(body: { id?: string; name?: string; layout?: LayoutKind }): Promise<RoomSummary> {
    return this.json('POST', '/api/rooms', body);
  }
  updateRoom(
    id: string,
    body: { layout?: LayoutKind; pinnedParticipantId?: string | null },
  ): Promise<RoomSummary> {
    return this.json('PATCH', `/api/rooms/${enc(id)}`, body);
  }
  deleteRoom(id: string): Promise<void> {
    return this.json('DELETE', `/api/rooms/${enc(id)}`);
  }
  issueToken(roomId: string, body: { identity: string; displayName?: string }): Promise<{ token: string }> {
    return this.json('POST', `/api/rooms/${enc(roomId)}/tokens`, body);
  }
  kick(roomId: string, participantId: string): Promise<void> {
    return this.json('DELETE', `/api/rooms/${enc(roomId)}/participants/${enc(participantId)}`);
  }
  setMuted(roomId: string, participantId: string, kind: MediaKind, muted: boolean): Promise<Participant> {
    const action = muted ? 'mute' : 'unmute';
    return this.json('POST', `/api/rooms/${enc(roomId)}/participants/${enc(participantId)}/${action}`, {
      kind,
    });
  }

  startRecording(roomId: string): Promise<Recording> {
    return this.json('POST', `/api/rooms/${enc(roomId)}/recordings`, {});
  }
  stopRecording(id: string): Promise<Recording> {
    return this.json('POST', `/api/recordings/${enc(id)}/stop`, {});
  }
  /** Newest first; the page shows the latest 100 (the API's largest page). */
  listRecordings(): Promise<{ items: Recording[]; total: number }> {
    return this.json('GET', '/api/recordings?limit=100');
  }
  /** Unlike the list, carries the live finalize progress. */
  getRecording(id: string): Promise<Recording> {
    return this.json('GET', `/api/recordings/${enc(id)}`);
  }
  deleteRecording(id: string): Promise<void> {
    return this.json('DELETE', `/api/recordings/${enc(id)}`);
  }
  /** Binary downloads go through fetch too: an <a href> or <img src> cannot send the key. */
  downloadRecording(id: string): Promise<Blob> {
    return this.blob(`/api/recordings/${enc(id)}/download`);
  }
  thumbnail(id: string): Promise<Blob> {
    return this.blob(`/api/recordings/${enc(id)}/thumbnail`);
  }

  startEgress(roomId: string, body: StartEgress): Promise<Egress> {
    return this.json('POST', `/api/rooms/${enc(roomId)}/egress`, body);
  }
  /** Live and recently ended, newest first. */
  listEgress(): Promise<{ items: Egress[] }> {
    return this.json('GET', '/api/egress');
  }
  stopEgress(id: string): Promise<Egress> {
    return this.json('DELETE', `/api/egress/${enc(id)}`);
  }
  startIngress(roomId: string, body: StartIngress): Promise<Ingress> {
    return this.json('POST', `/api/rooms/${enc(roomId)}/ingress`, body);
  }
  /** Newest first. */
  listIngress(): Promise<{ items: Ingress[] }> {
    return this.json('GET', '/api/ingress');
  }
  stopIngress(id: string): Promise<Ingress> {
    return this.json('DELETE', `/api/ingress/${enc(id)}`);
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetch(method, path, body);
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async blob(path: string): Promise<Blob> {
    return (await this.fetch('GET', path)).blob();
  }

  private async fetch(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) {
      // Error bodies are `{ error: code, message }`; anything else (a proxy page) keeps its status.
      const err = (await res.json().catch(() => null)) as { error?: string; message?: string } | null;
      throw new ApiError(res.status, err?.error ?? `http_${res.status}`, err?.message ?? res.statusText);
    }
    return res;
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
