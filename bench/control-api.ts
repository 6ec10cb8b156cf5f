/**
 * The benchmark's view of the control plane: REST (rooms, join tokens, recordings) and the
 * socket.io request/ack helper. How a synthetic participant gets permission to join lives
 * here only (`provisionJoin`), so a change of the join flow is a change in one place.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { RECORDING_STOP_REQUEST_MS } from '../workers/protocol/media';
import type { Ack } from '../workers/protocol/signaling';
import type { Profile } from '../workers/protocol/media';

/** Every remote call has a deadline: a hung server must not hang the benchmark. */
const HTTP_TIMEOUT_MS = 10_000;

export interface ServerEndpoint {
  url: string;
  adminApiKey: string;
}

export interface HttpResult<T> {
  status: number;
  body: T | null;
}

export async function adminRequest<T>(
  server: ServerEndpoint,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = HTTP_TIMEOUT_MS,
): Promise<HttpResult<T>> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.adminApiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: T | null = null;
  try {
    parsed = text ? (JSON.parse(text) as T) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, body: parsed };
}

export interface BenchRoom {
  roomId: string;
  profile: Profile;
  maxParticipants: number;
}

/** Creates the room with the layout the receivers assume when they look for tiles. */
export async function createRoom(server: ServerEndpoint, room: BenchRoom): Promise<void> {
  const res = await adminRequest(server, 'POST', '/api/rooms', {
    id: room.roomId,
    layout: 'grid',
    fit: 'letterbox',
    defaultProfile: room.profile,
    maxParticipants: room.maxParticipants,
  });
  if (res.status !== 201) throw new Error(`POST /api/rooms: ${res.status} ${JSON.stringify(res.body)}`);
}

/** A join token for a fresh identity in `roomId`: what the participant hands to `join`. */
export async function provisionJoin(
  server: ServerEndpoint,
  roomId: string,
  displayName: string,
): Promise<string> {
  const res = await adminRequest<{ token: string }>(server, 'POST', `/api/rooms/${roomId}/tokens`, {
    identity: `${displayName}-${randomBytes(3).toString('hex')}`,
    displayName,
    role: 'publisher',
  });
  if (res.status !== 201 || !res.body) {
    throw new Error(`POST /api/rooms/${roomId}/tokens: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body.token;
}

export type RecordingStart = { ok: true; recordingId: string } | { ok: false; reason: string };

/**
 * Starts a recording. The recordings API is optional for the benchmark: when the route does
 * not exist the scenario is reported as skipped, never faked.
 */
export async function startRecording(server: ServerEndpoint, roomId: string): Promise<RecordingStart> {
  const res = await adminRequest<Record<string, unknown>>(
    server,
    'POST',
    `/api/rooms/${roomId}/recordings`,
    {},
  );
  if (res.status === 404) return { ok: false, reason: 'skipped: endpoint missing' };
  if (res.status !== 201 && res.status !== 200) {
    return { ok: false, reason: `recording start failed: ${res.status} ${JSON.stringify(res.body)}` };
  }
  const id = res.body?.id ?? res.body?.recordingId;
  if (typeof id !== 'string')
    return { ok: false, reason: `recording start: no id in ${JSON.stringify(res.body)}` };
  return { ok: true, recordingId: id };
}

/**
 * A capture behind real time (a loaded machine) answers its stop once ffmpeg has encoded its
 * backlog: up to the server's RECORDING_STOP_REQUEST_MS.
 */
export async function stopRecording(server: ServerEndpoint, recordingId: string): Promise<void> {
  await adminRequest(
    server,
    'POST',
    `/api/recordings/${recordingId}/stop`,
    {},
    RECORDING_STOP_REQUEST_MS + 5000,
  );
}

/** Reads the Prometheus text of /metrics into `name{labels}` → value. */
export async function readMetrics(server: ServerEndpoint): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const res = await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) out.set(line.slice(0, space), value);
  }
  return out;
}

/** Sum of a metric over all its label sets. */
export function metricSum(metrics: Map<string, number>, name: string): number {
  let sum = 0;
  for (const [key, value] of metrics) if (key === name || key.startsWith(`${name}{`)) sum += value;
  return sum;
}

/** Emits a signaling request and resolves with its ack data; an error ack or timeout rejects. */
export function signal<T>(socket: Socket, event: string, body: unknown, timeoutMs = 15_000): Promise<T> {
  return new Promise((resolve, reject) => {
    socket.timeout(timeoutMs).emit(event, body, (err: Error | null, ack: Ack<T>) => {
      if (err) reject(new Error(`${event}: ${err.message}`));
      else if (!ack.ok) reject(new Error(`${event}: ${ack.error.code}: ${ack.error.message}`));
      else resolve(ack.data);
    });
  });
}
