import type { Rgb } from '../../workers/media/engine/video/i420';
import { ensureRoom, token } from './api';
import { startTestServer } from './server';
import { TestClient, type TestClientOptions } from './wrtc-client';

/** Colours the media tests send, far apart in YUV so a tile is recognisable by its mean. */
export const RED: Rgb = { r: 220, g: 30, b: 30 };
export const BLUE: Rgb = { r: 30, g: 60, b: 220 };
export const GREEN: Rgb = { r: 40, g: 200, b: 60 };

export type TestServer = Awaited<ReturnType<typeof startTestServer>>;

export interface LiveServer {
  /** The file's server (started in beforeAll). */
  readonly server: TestServer;
  /** Clients the running test opened: closed when it ends (afterEach). */
  readonly clients: TestClient[];
  /** Joins `roomId` (created if needed) as `identity` with a fresh token; the client is kept. */
  join(roomId: string, identity: string, opts?: Partial<TestClientOptions>): Promise<TestClient>;
}

/**
 * The opening of a media integration test file: one real server for the file, and every client
 * a test opened closed when that test ends, so that no peer connection outlives its test.
 */
export function useLiveServer(env: Record<string, string> = {}): LiveServer {
  let server: TestServer | undefined;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    server = await startTestServer(env);
  });
  // Each test's peers go when it ends: peers (and captures of their rooms) left streaming would
  // load the shared 2-core machine for every later test in the file (see docs/faults.md).
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await server?.close();
  });
  const live: LiveServer = {
    get server(): TestServer {
      if (!server) throw new Error('the server starts in beforeAll: use it inside a test');
      return server;
    },
    clients,
    async join(roomId, identity, opts = {}) {
      const c = await joinRoom(live.server, roomId, identity, opts);
      clients.push(c);
      return c;
    },
  };
  return live;
}

/**
 * Creates the room over REST unless it exists and joins it with a fresh token for `identity`
 * (display name the same unless given). For any server, also a spawned one.
 */
export async function joinRoom(
  server: { url: string },
  roomId: string,
  identity: string,
  opts: Partial<TestClientOptions> = {},
): Promise<TestClient> {
  await ensureRoom(server, roomId);
  const displayName = opts.displayName ?? identity;
  const t = await token(server, roomId, { identity, displayName, role: opts.role });
  return TestClient.connect(server.url, { roomId, displayName, token: t, ...opts });
}
