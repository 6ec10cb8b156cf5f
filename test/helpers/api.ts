import { randomBytes } from 'node:crypto';
import type { Room } from '../../src/rooms/rooms.schemas';
import type { ParticipantRole } from '../../workers/protocol/media';

/**
 * REST helpers for tests. Servers started by test/helpers/server.ts register their admin key
 * here (keyed by URL), so that a test, or a TestClient with no token, can call the admin API.
 */
const adminKeys = new Map<string, string>();

export type ServerRef = string | { url: string };

export function registerAdminKey(url: string, key: string): void {
  adminKeys.set(url, key);
}

export function adminKeyFor(server: ServerRef): string {
  const url = urlOf(server);
  const key = adminKeys.get(url);
  if (!key) throw new Error(`no admin key registered for ${url}`);
  return key;
}

export interface FetchOptions {
  method?: string;
  /** An object is sent as JSON; a string is sent as is (for malformed-JSON tests). */
  body?: unknown;
  /** Authorization: undefined = the server's admin key; null = no header; a string = that key. */
  key?: string | null;
  headers?: Record<string, string>;
}

/** fetch against the admin API with the right Authorization header. */
export function adminFetch(server: ServerRef, path: string, opts: FetchOptions = {}): Promise<Response> {
  const key = opts.key === undefined ? adminKeyFor(server) : opts.key;
  const headers: Record<string, string> = { ...opts.headers };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  return fetch(`${urlOf(server)}${path}`, { method: opts.method ?? (body ? 'POST' : 'GET'), headers, body });
}

/** adminFetch, returning the status and the parsed JSON body (null when there is none). */
export async function api<T = Record<string, unknown>>(
  server: ServerRef,
  path: string,
  opts: FetchOptions = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await adminFetch(server, path, opts);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
}

export async function createRoom(server: ServerRef, body: Record<string, unknown> = {}): Promise<Room> {
  const res = await api<Room>(server, '/api/rooms', { method: 'POST', body });
  if (res.status !== 201) throw new Error(`create room failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Creates the room unless it exists. */
export async function ensureRoom(
  server: ServerRef,
  id: string,
  body: Record<string, unknown> = {},
): Promise<void> {
  const res = await api(server, '/api/rooms', { method: 'POST', body: { id, ...body } });
  if (res.status !== 201 && res.status !== 409)
    throw new Error(`create room failed: ${res.status} ${JSON.stringify(res.body)}`);
}

export interface TokenRequest {
  identity: string;
  displayName?: string;
  role?: ParticipantRole;
  ttlSeconds?: number;
}

export async function token(server: ServerRef, roomId: string, req: TokenRequest): Promise<string> {
  const res = await api<{ token: string }>(server, `/api/rooms/${roomId}/tokens`, {
    method: 'POST',
    body: req,
  });
  if (res.status !== 201) throw new Error(`token failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.token;
}

/**
 * What a TestClient with no token does: make sure the room exists and get a token for a fresh
 * identity (so two clients with the same display name stay two participants).
 */
export async function provisionJoin(
  server: ServerRef,
  opts: { roomId: string; displayName: string; role?: ParticipantRole },
): Promise<string> {
  await ensureRoom(server, opts.roomId);
  return token(server, opts.roomId, {
    identity: `${opts.displayName}-${randomBytes(4).toString('hex')}`,
    displayName: opts.displayName,
    role: opts.role,
  });
}

function urlOf(server: ServerRef): string {
  return typeof server === 'string' ? server : server.url;
}
