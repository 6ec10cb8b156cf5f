import { io, type Socket } from 'socket.io-client';
import { signJoinToken } from '../../../src/auth/join-token';
import { AUTH_SECRETS, type AuthSecrets } from '../../../src/auth/secrets';
import { startTestServer } from '../../helpers/server';
import { api, createRoom, token } from '../../helpers/api';
import { request, waitFor } from '../../helpers/signal';
import { TestClient } from '../../helpers/wrtc-client';

type Server = Awaited<ReturnType<typeof startTestServer>>;

async function connect(url: string): Promise<Socket & { seen: { event: string; data: unknown }[] }> {
  const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  const seen: { event: string; data: unknown }[] = [];
  s.onAny((event: string, data: unknown) => seen.push({ event, data }));
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  return Object.assign(s, { seen });
}

describe('joining with tokens', () => {
  let server: Server;
  let jwtSecret: string;
  const sockets: Socket[] = [];
  const clients: TestClient[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    jwtSecret = server.app.get<symbol, AuthSecrets>(AUTH_SECRETS).jwtSecret;
    await createRoom(server, { id: 'lobby' });
    await createRoom(server, { id: 'elsewhere' });
  });

  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });

  async function socket() {
    const s = await connect(server.url);
    sockets.push(s);
    return s;
  }

  /** The refusal every misused token gets: an error ack, an `error` event with the code, a disconnect. */
  async function expectRefused(body: unknown, code: string, message: RegExp) {
    const s = await socket();
    expect(await request(s, 'join', body)).toMatchObject({
      ok: false,
      error: { code, message: expect.stringMatching(message) },
    });
    await waitFor(() => s.disconnected, 10000, 'the socket to be disconnected');
    expect(s.seen.filter((e) => e.event === 'error').map((e) => e.data)).toEqual([
      { code, message: expect.stringMatching(message) },
    ]);
  }

  it('a join without a token gets unauthorized, an error event and a disconnect', async () => {
    await expectRefused({ roomId: 'lobby', displayName: 'Nobody' }, 'unauthorized', /token/);
  });

  it('a forged token gets unauthorized and a disconnect', async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = signJoinToken(
      { roomId: 'lobby', identity: 'eve', displayName: 'Eve', role: 'publisher', iat: now, exp: now + 600 },
      'not-the-secret-'.repeat(3),
    );
    await expectRefused({ roomId: 'lobby', token: forged }, 'unauthorized', /signature/);
    await expectRefused({ roomId: 'lobby', token: 'a.b.c' }, 'unauthorized', /signature/);
  });

  it('an expired token gets unauthorized and a disconnect', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = signJoinToken(
      { roomId: 'lobby', identity: 'old', displayName: 'Old', role: 'publisher', iat: past, exp: past + 60 },
      jwtSecret,
    );
    await expectRefused({ roomId: 'lobby', token: expired }, 'unauthorized', /expired/);
  });

  it("another room's token gets forbidden and a disconnect", async () => {
    const t = await token(server, 'elsewhere', { identity: 'wanderer' });
    await expectRefused({ roomId: 'lobby', token: t }, 'forbidden', /another room/);
  });

  it('a token for a room deleted since gets not_found', async () => {
    await createRoom(server, { id: 'gone' });
    const t = await token(server, 'gone', { identity: 'late' });
    await api(server, '/api/rooms/gone', { method: 'DELETE' });
    const s = await socket();
    expect(await request(s, 'join', { roomId: 'gone', token: t })).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
  });

  it("the token's identity, display name and role win over what the client says", async () => {
    const t = await token(server, 'lobby', { identity: 'real-id', displayName: 'Real Name', role: 'viewer' });
    const s = await socket();
    const ack = await request<{ participantId: string; room: { participants: Record<string, unknown>[] } }>(
      s,
      'join',
      {
        roomId: 'lobby',
        token: t,
        displayName: 'Impostor',
        role: 'publisher',
      },
    );
    expect(ack.ok).toBe(true);
    if (!ack.ok) return;
    expect(ack.data.room.participants).toEqual([
      expect.objectContaining({
        participantId: ack.data.participantId,
        identity: 'real-id',
        displayName: 'Real Name',
        role: 'viewer',
      }),
    ]);
    s.disconnect();
  });

  it('joined returns the participant id, ICE servers and the room state', async () => {
    const t = await token(server, 'lobby', { identity: 'state' });
    const s = await socket();
    const ack = await request(s, 'join', { roomId: 'lobby', token: t });
    expect(ack).toMatchObject({
      ok: true,
      data: {
        participantId: expect.stringMatching(/^p_/),
        iceServers: [],
        room: {
          roomId: 'lobby',
          name: 'lobby',
          layout: 'grid',
          fit: 'crop',
          pinnedParticipantId: null,
          activeSpeakerId: null,
          participants: expect.any(Array),
        },
      },
    });
    s.disconnect();
  });

  it('a viewer token cannot publish: an offer that sends media is refused', async () => {
    await createRoom(server, { id: 'stage' });
    const t = await token(server, 'stage', { identity: 'watcher', role: 'viewer' });
    // A viewer offering a real camera track is refused before it reaches the media worker...
    await expect(
      TestClient.connect(server.url, {
        roomId: 'stage',
        displayName: 'w',
        token: t,
        colour: { r: 1, g: 2, b: 3 },
        role: 'publisher',
      }),
    ).rejects.toMatchObject({
      code: 'forbidden',
    });
    // ...while a receive-only viewer gets the mixed picture of the publisher.
    const pub = await TestClient.connect(server.url, {
      roomId: 'stage',
      displayName: 'p',
      token: await token(server, 'stage', { identity: 'pub' }),
      colour: { r: 220, g: 30, b: 30 },
    });
    clients.push(pub);
    const viewer = await TestClient.connect(server.url, {
      roomId: 'stage',
      displayName: 'v',
      token: await token(server, 'stage', { identity: 'watcher2', role: 'viewer' }),
      role: 'viewer',
    });
    clients.push(viewer);
    await waitFor(() => viewer.framesReceived > 0, 45000, 'the viewer to receive video');
  });

  it('a publisher token beyond the room capacity gets room_full', async () => {
    await createRoom(server, { id: 'duo', maxParticipants: 1 });
    const t1 = await token(server, 'duo', { identity: 'one' });
    const t2 = await token(server, 'duo', { identity: 'two' });
    const s1 = await socket();
    expect((await request(s1, 'join', { roomId: 'duo', token: t1 })).ok).toBe(true);
    const s2 = await socket();
    expect(await request(s2, 'join', { roomId: 'duo', token: t2 })).toMatchObject({
      ok: false,
      error: { code: 'room_full' },
    });
    expect(s2.connected).toBe(true);
  });

  it('too many ICE candidates from one participant are refused with payload_too_large', async () => {
    const small = await startTestServer({ MAX_ICE_CANDIDATES: '2' });
    try {
      await createRoom(small, { id: 'ice' });
      const s = await connect(small.url);
      sockets.push(s);
      expect(
        (await request(s, 'join', { roomId: 'ice', token: await token(small, 'ice', { identity: 'i' }) })).ok,
      ).toBe(true);
      const candidate = {
        candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host',
        sdpMid: '0',
        sdpMLineIndex: 0,
      };
      for (let i = 0; i < 2; i++) await request(s, 'ice', { candidate });
      expect(await request(s, 'ice', { candidate })).toMatchObject({
        ok: false,
        error: { code: 'payload_too_large', message: expect.stringContaining('ICE') },
      });
      expect(await request(s, 'ice', { candidate: { nope: 1 } })).toMatchObject({
        ok: false,
        error: { code: 'bad_request' },
      });
    } finally {
      await small.close();
    }
  });

  it('an SDP over MAX_SDP_BYTES is refused with payload_too_large', async () => {
    const small = await startTestServer({ MAX_SDP_BYTES: '1000' });
    try {
      await createRoom(small, { id: 'sdp' });
      const s = await connect(small.url);
      sockets.push(s);
      expect(
        (await request(s, 'join', { roomId: 'sdp', token: await token(small, 'sdp', { identity: 's' }) })).ok,
      ).toBe(true);
      expect(await request(s, 'offer', { sdp: 'v=0\r\n' + 'a=x\r\n'.repeat(300) })).toMatchObject({
        ok: false,
        error: { code: 'payload_too_large' },
      });
    } finally {
      await small.close();
    }
  });

  it('one client joining too often gets rate_limited', async () => {
    const limited = await startTestServer({ RATE_LIMIT_JOIN_PER_MINUTE: '2' });
    try {
      await createRoom(limited, { id: 'rl' });
      const s = await connect(limited.url);
      sockets.push(s);
      // Bad joins count too: the limit is on attempts, which is what protects the server.
      expect(await request(s, 'join', { roomId: '../x' })).toMatchObject({
        ok: false,
        error: { code: 'bad_request' },
      });
      expect(await request(s, 'join', { roomId: '../x' })).toMatchObject({
        ok: false,
        error: { code: 'bad_request' },
      });
      const t = await token(limited, 'rl', { identity: 'r' });
      expect(await request(s, 'join', { roomId: 'rl', token: t })).toMatchObject({
        ok: false,
        error: { code: 'rate_limited' },
      });
    } finally {
      await limited.close();
    }
  });
});
