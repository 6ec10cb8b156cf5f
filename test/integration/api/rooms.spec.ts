import { randomBytes } from 'node:crypto';
import { spawnServer, startTestServer } from '../../helpers/server';
import { adminFetch, api, createRoom } from '../../helpers/api';

type Server = Awaited<ReturnType<typeof startTestServer>>;

describe('rooms REST API', () => {
  let server: Server;

  beforeAll(async () => {
    server = await startTestServer();
    await createRoom(server, { id: 'board' });
  });

  afterAll(async () => {
    await server.close();
  });

  it('every admin endpoint refuses a request without the key or with a wrong key', async () => {
    await createRoom(server, { id: 'guarded' });
    const endpoints: [string, string, unknown?][] = [
      ['POST', '/api/rooms', {}],
      ['GET', '/api/rooms'],
      ['GET', '/api/rooms/guarded'],
      ['PATCH', '/api/rooms/guarded', { layout: 'speaker' }],
      ['DELETE', '/api/rooms/guarded'],
      ['POST', '/api/rooms/guarded/tokens', { identity: 'x' }],
      ['GET', '/api/rooms/guarded/participants'],
      ['DELETE', '/api/rooms/guarded/participants/p_1'],
      ['POST', '/api/rooms/guarded/participants/p_1/mute', { kind: 'audio' }],
      ['POST', '/api/rooms/guarded/participants/p_1/unmute', { kind: 'audio' }],
    ];
    for (const [method, path, body] of endpoints) {
      for (const key of [null, 'wrong-key', '']) {
        const res = await api(server, path, { method, body, key });
        expect({ method, path, status: res.status, body: res.body }).toMatchObject({
          status: 401,
          body: { error: 'unauthorized', message: expect.any(String) },
        });
      }
    }
    const basic = await api(server, '/api/rooms', { key: null, headers: { authorization: 'Basic abc' } });
    expect(basic.status).toBe(401);
    expect((await api(server, '/api/rooms/guarded')).status).toBe(200);
  });

  it('creates a room with every option and returns it', async () => {
    const res = await api(server, '/api/rooms', {
      method: 'POST',
      body: {
        id: 'board-full',
        name: 'Board meeting',
        layout: 'speaker',
        fit: 'letterbox',
        defaultProfile: 'low',
        maxParticipants: 4,
        autoRecord: true,
        metadata: { team: 'finance', floor: 3 },
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: 'board-full',
      name: 'Board meeting',
      layout: 'speaker',
      fit: 'letterbox',
      pinnedParticipantId: null,
      defaultProfile: 'low',
      maxParticipants: 4,
      autoRecord: true,
      metadata: { team: 'finance', floor: 3 },
    });
    expect(Date.parse(res.body.createdAt as string)).not.toBeNaN();
  });

  it('creates a room with defaults and a generated id when the body is empty', async () => {
    const room = await createRoom(server, {});
    expect(room.id).toMatch(/^room_[0-9a-f]{12}$/);
    expect(room).toMatchObject({
      name: room.id,
      layout: 'grid',
      fit: 'crop',
      defaultProfile: 'standard',
      maxParticipants: 16,
      autoRecord: false,
      metadata: {},
    });
  });

  it('lists rooms with their live state and gets one with its participants', async () => {
    await createRoom(server, { id: 'listed', name: 'Listed' });
    const list = await api<{ rooms: { id: string; active: boolean; participantCount: number }[] }>(
      server,
      '/api/rooms',
    );
    expect(list.status).toBe(200);
    expect(list.body.rooms.find((r) => r.id === 'listed')).toMatchObject({
      name: 'Listed',
      active: false,
      participantCount: 0,
    });
    const one = await api(server, '/api/rooms/listed');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: 'listed', active: false, activeSpeakerId: null, participants: [] });
  });

  it('updates layout, fit, name and metadata and keeps the rest', async () => {
    await createRoom(server, { id: 'patchme', maxParticipants: 3 });
    const res = await api(server, '/api/rooms/patchme', {
      method: 'PATCH',
      body: { layout: 'pinned', fit: 'letterbox', name: 'Renamed', metadata: { a: 1 } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: 'patchme',
      layout: 'pinned',
      fit: 'letterbox',
      name: 'Renamed',
      metadata: { a: 1 },
      maxParticipants: 3,
    });
    expect((await api(server, '/api/rooms/patchme')).body).toMatchObject({
      layout: 'pinned',
      name: 'Renamed',
    });
  });

  it('refuses to pin a participant who is not in the room with 422', async () => {
    await createRoom(server, { id: 'pinless' });
    const res = await api(server, '/api/rooms/pinless', {
      method: 'PATCH',
      body: { pinnedParticipantId: 'p_nobody' },
    });
    expect(res).toMatchObject({
      status: 422,
      body: { error: 'unprocessable', message: expect.stringContaining('p_nobody') },
    });
  });

  it('deletes a room: it is gone from the list and a second delete is a 404', async () => {
    await createRoom(server, { id: 'doomed' });
    expect((await adminFetch(server, '/api/rooms/doomed', { method: 'DELETE' })).status).toBe(204);
    const list = await api<{ rooms: { id: string }[] }>(server, '/api/rooms');
    expect(list.body.rooms.map((r) => r.id)).not.toContain('doomed');
    expect((await api(server, '/api/rooms/doomed', { method: 'DELETE' })).body).toEqual({
      error: 'not_found',
      message: 'room doomed does not exist',
    });
  });

  it('answers 404 with { error, message } for unknown room ids on every room endpoint', async () => {
    const calls: [string, string, unknown?][] = [
      ['GET', '/api/rooms/nope'],
      ['PATCH', '/api/rooms/nope', { layout: 'grid' }],
      ['DELETE', '/api/rooms/nope'],
      ['POST', '/api/rooms/nope/tokens', { identity: 'x' }],
      ['GET', '/api/rooms/nope/participants'],
      ['DELETE', '/api/rooms/nope/participants/p_1'],
      ['POST', '/api/rooms/nope/participants/p_1/mute', { kind: 'video' }],
      ['GET', '/api/rooms/has%20space'],
    ];
    for (const [method, path, body] of calls) {
      const res = await api(server, path, { method, body });
      expect({ path, method, status: res.status, body: res.body }).toMatchObject({
        status: 404,
        body: { error: 'not_found', message: expect.any(String) },
      });
    }
  });

  it('answers 404 for unknown participants of an existing room', async () => {
    await createRoom(server, { id: 'nobody-here' });
    for (const [method, path, body] of [
      ['DELETE', '/api/rooms/nobody-here/participants/p_1', undefined],
      ['POST', '/api/rooms/nobody-here/participants/p_1/mute', { kind: 'audio' }],
      ['POST', '/api/rooms/nobody-here/participants/p_1/unmute', { kind: 'video' }],
    ] as const) {
      expect((await api(server, path, { method, body })).body).toMatchObject({ error: 'not_found' });
    }
    expect((await api(server, '/api/rooms/nobody-here/participants')).body).toEqual({ participants: [] });
  });

  it('answers 400 for a malformed or wrongly shaped body', async () => {
    const bad: [string, string, unknown][] = [
      ['POST', '/api/rooms', '{"id":'],
      ['POST', '/api/rooms', '[1,2]'],
      ['POST', '/api/rooms', { name: 42 }],
      ['POST', '/api/rooms', { colour: 'red' }],
      ['PATCH', '/api/rooms/board', { maxParticipants: 3 }],
      ['POST', '/api/rooms/board/tokens', {}],
      ['POST', '/api/rooms/board/tokens', { identity: 7 }],
    ];
    for (const [method, path, body] of bad) {
      const res = await api(server, path, { method, body });
      expect({ body, status: res.status, res: res.body }).toMatchObject({
        status: 400,
        res: { error: 'bad_request', message: expect.any(String) },
      });
    }
  });

  it('answers 422 for well-formed values that are not allowed', async () => {
    const bad: [string, string, unknown][] = [
      ['POST', '/api/rooms', { layout: 'mosaic' }],
      ['POST', '/api/rooms', { maxParticipants: 0 }],
      ['POST', '/api/rooms', { maxParticipants: 17 }],
      ['POST', '/api/rooms', { id: 'has space' }],
      ['POST', '/api/rooms', { metadata: { blob: 'x'.repeat(17000) } }],
      ['PATCH', '/api/rooms/board', {}],
      ['PATCH', '/api/rooms/board', { fit: 'stretch' }],
      ['POST', '/api/rooms/board/tokens', { identity: 'a', role: 'admin' }],
      ['POST', '/api/rooms/board/tokens', { identity: 'a', ttlSeconds: 86401 }],
      ['POST', '/api/rooms/board/tokens', { identity: '' }],
    ];
    for (const [method, path, body] of bad) {
      const res = await api(server, path, { method, body });
      expect({ body, status: res.status, res: res.body }).toMatchObject({
        status: 422,
        res: { error: 'unprocessable', message: expect.any(String) },
      });
    }
  });

  it('answers 413 with { error, message } for a body over 256 kB', async () => {
    const res = await api(server, '/api/rooms', {
      method: 'POST',
      body: { metadata: { blob: 'x'.repeat(300 * 1024) } },
    });
    expect(res).toMatchObject({
      status: 413,
      body: { error: 'payload_too_large', message: expect.any(String) },
    });
  });

  it('answers 409 when a room id is taken', async () => {
    await createRoom(server, { id: 'taken' });
    const res = await api(server, '/api/rooms', { method: 'POST', body: { id: 'taken' } });
    expect(res).toMatchObject({
      status: 409,
      body: { error: 'conflict', message: 'room taken already exists' },
    });
  });

  it('issues a join token with identity, display name, role and expiry', async () => {
    const res = await api(server, '/api/rooms/board/tokens', {
      method: 'POST',
      body: { identity: 'u-42', displayName: 'Ada', role: 'viewer', ttlSeconds: 120 },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      roomId: 'board',
      identity: 'u-42',
      displayName: 'Ada',
      role: 'viewer',
      token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
    });
    const ttl = Date.parse(res.body.expiresAt as string) - Date.now();
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(121_000);
    const defaults = await api(server, '/api/rooms/board/tokens', {
      method: 'POST',
      body: { identity: 'plain' },
    });
    expect(defaults.body).toMatchObject({ displayName: 'plain', role: 'publisher' });
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await api(server, '/api/nothing-here');
    expect(res).toMatchObject({ status: 404, body: { error: 'not_found', message: expect.any(String) } });
  });

  it('serves the OpenAPI document and its UI, documenting bearer auth and every endpoint', async () => {
    const doc = (await (await fetch(`${server.url}/api/docs-json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
      components: { securitySchemes: Record<string, { scheme: string }> };
    };
    expect(Object.values(doc.components.securitySchemes)[0]).toMatchObject({ scheme: 'bearer' });
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/rooms',
        '/api/rooms/{roomId}',
        '/api/rooms/{roomId}/tokens',
        '/api/rooms/{roomId}/participants',
        '/api/rooms/{roomId}/participants/{participantId}',
        '/api/rooms/{roomId}/participants/{participantId}/mute',
        '/api/rooms/{roomId}/participants/{participantId}/unmute',
      ]),
    );
    expect(Object.keys(doc.paths['/api/rooms/{roomId}'])).toEqual(
      expect.arrayContaining(['get', 'patch', 'delete']),
    );
    const ui = await fetch(`${server.url}/api/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger');
  });
});

describe('rooms REST API limits', () => {
  it('answers 409 limit_reached when MAX_ROOMS rooms exist', async () => {
    const server = await startTestServer({ MAX_ROOMS: '2' });
    try {
      await createRoom(server, { id: 'one' });
      await createRoom(server, { id: 'two' });
      const res = await api(server, '/api/rooms', { method: 'POST', body: { id: 'three' } });
      expect(res).toMatchObject({
        status: 409,
        body: { error: 'limit_reached', message: expect.stringContaining('MAX_ROOMS') },
      });
      // Deleting one makes room again.
      await adminFetch(server, '/api/rooms/one', { method: 'DELETE' });
      expect((await api(server, '/api/rooms', { method: 'POST', body: { id: 'three' } })).status).toBe(201);
    } finally {
      await server.close();
    }
  });

  it('answers 429 with Retry-After when one client asks for too many tokens', async () => {
    const server = await startTestServer({ RATE_LIMIT_TOKENS_PER_MINUTE: '3' });
    try {
      await createRoom(server, { id: 'busy' });
      for (let i = 0; i < 3; i++) {
        expect(
          (await api(server, '/api/rooms/busy/tokens', { method: 'POST', body: { identity: `u${i}` } }))
            .status,
        ).toBe(201);
      }
      const res = await api(server, '/api/rooms/busy/tokens', { method: 'POST', body: { identity: 'u3' } });
      expect(res).toMatchObject({
        status: 429,
        body: { error: 'rate_limited', message: expect.any(String) },
      });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      // Other endpoints are not limited by the token bucket.
      expect((await api(server, '/api/rooms/busy')).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('room configuration across a control-plane restart', () => {
  it('a room created over REST is still listed, unchanged, after the server restarts on the same Redis', async () => {
    const env = {
      REDIS_URL: process.env.TEST_REDIS_URL as string,
      REDIS_KEY_PREFIX: `t${randomBytes(4).toString('hex')}:`,
    };
    const first = await startTestServer(env);
    const created = await createRoom(first, {
      id: 'survivor',
      name: 'Survives',
      layout: 'speaker',
      metadata: { k: 'v' },
    });
    await api(first, '/api/rooms/survivor', { method: 'PATCH', body: { fit: 'letterbox' } });
    await first.close();

    const second = await startTestServer(env);
    try {
      const list = await api<{ rooms: { id: string }[] }>(second, '/api/rooms');
      expect(list.body.rooms.map((r) => r.id)).toEqual(['survivor']);
      const got = await api(second, '/api/rooms/survivor');
      expect(got.body).toMatchObject({ ...created, fit: 'letterbox', updatedAt: expect.any(String) });
    } finally {
      await second.close();
    }
  });
});

describe('room configuration in the zero-config set-up', () => {
  it('a room survives a restart of the real server process on the same DATA_DIR (embedded Redis, AOF)', async () => {
    const first = await spawnServer();
    await createRoom(first, { id: 'kept', name: 'Kept' });
    expect(await first.stop('SIGTERM')).toBe(0);
    const second = await spawnServer({ DATA_DIR: first.dataDir });
    try {
      expect((await api(second, '/api/rooms/kept')).body).toMatchObject({ id: 'kept', name: 'Kept' });
    } finally {
      expect(await second.stop('SIGTERM')).toBe(0);
    }
  });
});
