import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ParticipantInfo } from '../../src/rooms/rooms.schemas';
import { api, ensureRoom, token } from '../helpers/api';
import { frameContainsColour, goertzel, rgbToYuv, rmsOf } from '../helpers/media-analysis';
import { joinRoom, RED } from '../helpers/live-room';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/signal';
import type { TestClient } from '../helpers/wrtc-client';
import { call, openTestPage, waitFor as waitForValue, type RtpTestPage } from '../integration/rtp/chromium';
import { colourY4m, HEIGHT, WIDTH } from '../integration/rtp/media-files';

const ROOM = 'whip-room';
/** The WHIP publisher's camera (Chromium's fake camera from a y4m) and its microphone tone. */
const CAMERA = { r: 0x20, g: 0x60, b: 0xc0 };
const CAMERA_HEX = '0x2060C0';
const WHIP_TONE_HZ = 440;
const WRTC_TONE_HZ = 880;

function near(cell: number[], c: { r: number; g: number; b: number }, tolerance = 40): boolean {
  return (
    Math.abs(cell[0] - c.r) <= tolerance &&
    Math.abs(cell[1] - c.g) <= tolerance &&
    Math.abs(cell[2] - c.b) <= tolerance
  );
}

/**
 * Waits until frames the wrtc client received after this call show (or no longer show) the WHIP
 * camera colour: a frozen picture must not pass for the current composite.
 */
function waitForCamera(wrtc: TestClient, present: boolean, timeoutMs: number, what: string): Promise<void> {
  const after = wrtc.framesReceived + 2;
  return waitFor(
    () =>
      wrtc.framesReceived > after &&
      wrtc.latestFrame !== null &&
      frameContainsColour(wrtc.latestFrame, rgbToYuv(CAMERA)) === present,
    timeoutMs,
    what,
  );
}

/** An RFC 8840 trickle-ICE fragment of the page's gathered candidates, grouped by mid. */
function sdpFrag(offer: string, candidates: Array<{ candidate: string; sdpMid: string }>): string {
  const ufrag = /a=ice-ufrag:(\S+)/.exec(offer)?.[1] ?? '';
  const pwd = /a=ice-pwd:(\S+)/.exec(offer)?.[1] ?? '';
  const lines = [`a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`];
  for (const mid of [...new Set(candidates.map((c) => c.sdpMid))]) {
    lines.push('m=audio 9 UDP/TLS/RTP/SAVPF 0', `a=mid:${mid}`);
    for (const c of candidates.filter((x) => x.sdpMid === mid)) lines.push(`a=${c.candidate}`);
  }
  return lines.join('\r\n') + '\r\n';
}

describe('WHIP ingest and WHEP playback (H.264, VP8; Chromium)', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let dir: string;
  let publisher: RtpTestPage;
  let player: RtpTestPage;
  let client: TestClient | null = null;
  /**
   * Sessions a test opened (resource path + its bearer), deleted after each test whatever its
   * outcome: one failed test must not leave a publisher in the room for the next ones.
   */
  let opened: Array<{ location: string; bearer: string }> = [];
  const remember = (location: string, bearer: string): void => {
    if (location !== '') opened.push({ location, bearer });
  };

  /** POST to the alias `/api/rooms/:roomId/<kind>`; `postAt` to the endpoint `/<kind>/:roomId`. */
  const post = (
    kind: 'whip' | 'whep',
    bearer: string | null,
    sdp: string,
    type = 'application/sdp',
    room = ROOM,
  ) => postAt(`/api/rooms/${room}/${kind}`, bearer, sdp, type);
  const postAt = (url: string, bearer: string | null, sdp: string, type = 'application/sdp') =>
    fetch(`${server.url}${url}`, {
      method: 'POST',
      headers: { 'content-type': type, ...(bearer !== null ? { authorization: `Bearer ${bearer}` } : {}) },
      body: sdp,
    });
  const participants = async (): Promise<ParticipantInfo[]> =>
    (await api<{ participants: ParticipantInfo[] }>(server, `/api/rooms/${ROOM}/participants`)).body
      .participants;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whip-'));
    server = await startTestServer();
    await ensureRoom(server, ROOM);
    await ensureRoom(server, 'other-room');
    publisher = await openTestPage(dir, colourY4m(dir, CAMERA_HEX));
    player = await openTestPage(dir, null);
  });

  afterEach(async () => {
    for (const { location, bearer } of opened) {
      // 200 when a failed test left it behind, 404 when the test deleted it itself.
      await fetch(`${server.url}${location}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${bearer}` },
      });
    }
    opened = [];
  });

  afterAll(async () => {
    await client?.close();
    await publisher?.close();
    await player?.close();
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a WHIP publisher is a participant: the others see its colour and hear its tone; DELETE makes it leave', async () => {
    client = await joinRoom(server, ROOM, 'vera', {
      colour: RED,
      toneHz: WRTC_TONE_HZ,
      videoCodecs: ['VP8'],
    });
    const wrtc = client;
    const offer = await call(publisher.page, 'publish', 'H264');
    const t = await token(server, ROOM, { identity: 'obs', displayName: 'OBS', role: 'publisher' });
    const res = await post('whip', t, offer);
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/sdp/);
    const location = res.headers.get('location') ?? '';
    remember(location, t);
    // The alias answers with the session resource of the endpoint form.
    expect(location).toMatch(new RegExp(`^/whip/${ROOM}/p_[0-9a-f]+$`));
    const answer = await res.text();
    expect(answer).toMatch(/a=rtpmap:\d+ H264\/90000/);
    expect(answer).toMatch(/a=candidate:/); // complete: WHIP clients need not trickle
    await call(publisher.page, 'setAnswer', answer);

    await waitForCamera(wrtc, true, 60000, 'the wrtc client to see the WHIP camera colour');
    await waitFor(
      () =>
        rmsOf(wrtc.recentAudio(500)) > 0.02 &&
        goertzel(wrtc.recentAudio(1000), wrtc.audioSampleRate, WHIP_TONE_HZ) > 0.3,
      45000,
      'the WHIP tone at the wrtc client',
    );
    const list = await participants();
    expect(list.map((p) => p.displayName).sort()).toEqual(['OBS', 'vera']);
    expect(list.find((p) => p.displayName === 'OBS')?.role).toBe('publisher');
    // Its uplink as the server receives it (issue #15 item 3), from our own RTP stack's receive
    // stream and decoder: the camera's size arriving, at a frame rate.
    const uplink = await waitForValue(
      async () => (await participants()).find((p) => p.displayName === 'OBS')?.uplink,
      (u) => !!u && u.width > 0 && u.fps > 0,
      "the WHIP publisher's uplink in REST",
      30000,
    );
    expect(uplink).toMatchObject({ state: 'good', width: WIDTH, height: HEIGHT });
    expect(uplink!.kbps).toBeGreaterThan(0);

    // WHEP: a receive-only H.264 player gets the composite with both colours and the full mix.
    const playOffer = await call(player.page, 'play', 'H264');
    const vt = await token(server, ROOM, { identity: 'watcher', displayName: 'Watcher', role: 'viewer' });
    const played = await post('whep', vt, playOffer);
    expect(played.status).toBe(201);
    const whepLocation = played.headers.get('location') ?? '';
    remember(whepLocation, vt);
    expect(whepLocation).toMatch(new RegExp(`^/whep/${ROOM}/p_[0-9a-f]+$`));
    await call(player.page, 'setAnswer', await played.text());
    await waitForValue(
      () => call(player.page, 'cells'),
      (cells) => cells.some((c) => near(c, RED)) && cells.some((c) => near(c, CAMERA)),
      'the WHEP player to see both colours',
      60000,
    );
    await waitForValue(
      () => call(player.page, 'levels', [WHIP_TONE_HZ, WRTC_TONE_HZ]),
      (l) => l !== null && l[WHIP_TONE_HZ] > 0.1 && l[WRTC_TONE_HZ] > 0.1,
      'the WHEP player to hear both tones',
      45000,
    );
    const stats = await call(player.page, 'stats');
    expect(stats.video.codec).toBe('video/H264');
    expect((await participants()).find((p) => p.displayName === 'Watcher')?.role).toBe('viewer');

    // Leaving: DELETE with someone else's token is refused, with the session's own it works.
    const intruder = await token(server, ROOM, { identity: 'mallory', role: 'publisher' });
    const del = (bearer: string, loc: string) =>
      fetch(`${server.url}${loc}`, { method: 'DELETE', headers: { authorization: `Bearer ${bearer}` } });
    expect((await del(intruder, location)).status).toBe(403);
    expect((await del(t, location)).status).toBe(200);
    expect((await del(vt, whepLocation)).status).toBe(200);
    expect((await participants()).map((p) => p.displayName)).toEqual(['vera']);
    expect((await del(t, location)).status).toBe(404);
  });

  it('a VP8 WHIP publisher trickling its candidates by PATCH, and a VP8 WHEP player, at /whip/:roomId and /whep/:roomId', async () => {
    const wrtc = client;
    if (!wrtc) throw new Error('the first test joins the wrtc client');
    expect((await participants()).map((p) => p.displayName)).toEqual(['vera']);
    // The previous publisher's picture is gone first, so the colour seen below is this one's.
    await waitForCamera(wrtc, false, 30000, 'the composite without the camera colour');
    // The offer goes out before gathering, without a candidate; they follow by PATCH.
    const offer = await call(publisher.page, 'publish', 'VP8', true);
    expect(offer).not.toMatch(/a=candidate:/);
    expect(offer).toMatch(/a=rtpmap:\d+ VP8\/90000/);
    expect(offer).not.toMatch(/a=rtpmap:\d+ (H264|VP9|AV1)\/90000/);
    const t = await token(server, ROOM, { identity: 'cam', displayName: 'Cam', role: 'publisher' });
    const res = await postAt(`/whip/${ROOM}`, t, offer);
    expect(res.status).toBe(201);
    expect(res.headers.get('accept-patch')).toBe('application/trickle-ice-sdpfrag');
    const location = res.headers.get('location') ?? '';
    remember(location, t);
    expect(location).toMatch(new RegExp(`^/whip/${ROOM}/p_[0-9a-f]+$`));
    const answer = await res.text();
    expect(answer).toMatch(/a=rtpmap:\d+ VP8\/90000/);
    await call(publisher.page, 'setAnswer', answer);
    await call(publisher.page, 'gathered');
    const candidates = await call(publisher.page, 'takeCandidates');
    expect(candidates.length).toBeGreaterThan(0);
    const patch = (bearer: string, body: string, type = 'application/trickle-ice-sdpfrag', loc = location) =>
      fetch(`${server.url}${loc}`, {
        method: 'PATCH',
        headers: { 'content-type': type, authorization: `Bearer ${bearer}` },
        body,
      });
    const frag = sdpFrag(offer, candidates);
    // Refused PATCHes first: they change nothing.
    const otherRoom = await token(server, 'other-room', { identity: 'cam', role: 'publisher' });
    const intruder = await token(server, ROOM, { identity: 'mallory', role: 'publisher' });
    const refusals: Array<[string, Promise<Response>, number, string]> = [
      ['wrong content type', patch(t, frag, 'application/sdp'), 415, 'unsupported_media_type'],
      ['forged token', patch(`${t.slice(0, -4)}AAAA`, frag), 401, 'unauthorized'],
      ['token for another room', patch(otherRoom, frag), 403, 'forbidden'],
      ['another identity', patch(intruder, frag), 403, 'forbidden'],
      ['unknown session', patch(t, frag, undefined, `/whip/${ROOM}/p_0000`), 404, 'not_found'],
      [
        'a WHEP path for a WHIP session',
        patch(t, frag, undefined, location.replace('/whip/', '/whep/')),
        404,
        'not_found',
      ],
    ];
    for (const [what, pending, status, code] of refusals) {
      const r = await pending;
      const body = (await r.json()) as { error: string };
      expect({ what, status: r.status, error: body.error }).toEqual({ what, status, error: code });
    }
    expect((await patch(t, frag)).status).toBe(204);

    await waitForCamera(wrtc, true, 60000, 'the wrtc client to see the VP8 WHIP camera colour');
    await waitFor(
      () =>
        rmsOf(wrtc.recentAudio(500)) > 0.02 &&
        goertzel(wrtc.recentAudio(1000), wrtc.audioSampleRate, WHIP_TONE_HZ) > 0.3,
      45000,
      'the VP8 WHIP publisher tone at the wrtc client',
    );
    // The page's own stats agree: VP8 frames are being encoded (polled: the first stats report of
    // a loaded browser can predate its first encoded frame).
    await waitForValue(
      () => call(publisher.page, 'stats'),
      (st) => st.video.codec === 'video/VP8' && (st.video.framesEncoded ?? 0) > 0,
      'the WHIP publisher page to encode VP8',
      30000,
    );

    // WHEP with VP8: the composite (both colours) and the full mix (both tones) in VP8.
    const playOffer = await call(player.page, 'play', 'VP8');
    expect(playOffer).not.toMatch(/a=rtpmap:\d+ H264\/90000/);
    const vt = await token(server, ROOM, {
      identity: 'vp8-watcher',
      displayName: 'Watcher8',
      role: 'viewer',
    });
    const played = await postAt(`/whep/${ROOM}`, vt, playOffer);
    expect(played.status).toBe(201);
    const whepLocation = played.headers.get('location') ?? '';
    remember(whepLocation, vt);
    expect(whepLocation).toMatch(new RegExp(`^/whep/${ROOM}/p_[0-9a-f]+$`));
    await call(player.page, 'setAnswer', await played.text());
    await waitForValue(
      () => call(player.page, 'cells'),
      (cells) => cells.some((c) => near(c, RED)) && cells.some((c) => near(c, CAMERA)),
      'the VP8 WHEP player to see both colours',
      60000,
    );
    await waitForValue(
      () => call(player.page, 'levels', [WHIP_TONE_HZ, WRTC_TONE_HZ]),
      (l) => l !== null && l[WHIP_TONE_HZ] > 0.1 && l[WRTC_TONE_HZ] > 0.1,
      'the VP8 WHEP player to hear both tones',
      45000,
    );
    expect((await call(player.page, 'stats')).video.codec).toBe('video/VP8');
    const list = await participants();
    expect(list.map((p) => `${p.displayName}:${p.role}`).sort()).toEqual([
      'Cam:publisher',
      'Watcher8:viewer',
      'vera:publisher',
    ]);

    const del = (bearer: string, loc: string) =>
      fetch(`${server.url}${loc}`, { method: 'DELETE', headers: { authorization: `Bearer ${bearer}` } });
    expect((await del(t, location)).status).toBe(200);
    // The alias form of the resource path is the same resource.
    expect((await del(vt, `/api/rooms/${ROOM}${whepLocation.replace(`/${ROOM}`, '')}`)).status).toBe(200);
    expect((await participants()).map((p) => p.displayName)).toEqual(['vera']);
  });

  it.each(['VP9', 'AV1'])(
    'a %s WHIP publisher joins through wrtc: the others see its colour',
    async (codec) => {
      const wrtc = client;
      if (!wrtc) throw new Error('the first test joins the wrtc client');
      // The previous publisher's picture is gone first, so the colour seen below is this one's.
      await waitForCamera(wrtc, false, 30000, 'the composite without the camera colour');
      const offer = await call(publisher.page, 'publish', codec);
      expect(offer).toMatch(new RegExp(`a=rtpmap:\\d+ ${codec}/90000`));
      expect(offer).not.toMatch(/a=rtpmap:\d+ (H264|VP8)\/90000/);
      const t = await token(server, ROOM, { identity: `cam-${codec}`, role: 'publisher' });
      const res = await postAt(`/whip/${ROOM}`, t, offer);
      expect(res.status).toBe(201);
      remember(res.headers.get('location') ?? '', t);
      await call(publisher.page, 'setAnswer', await res.text());
      await waitForCamera(wrtc, true, 60000, `the wrtc client to see the ${codec} WHIP camera colour`);
      expect((await call(publisher.page, 'stats')).video.codec).toBe(`video/${codec}`);
      const location = res.headers.get('location') ?? '';
      const del = await fetch(`${server.url}${location}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${t}` },
      });
      expect(del.status).toBe(200);
      expect((await participants()).map((p) => p.displayName)).toEqual(['vera']);
    },
  );

  it('refuses bad requests with a clear 4xx and leaves nobody behind', async () => {
    const before = (await participants()).length;
    const good = await call(publisher.page, 'publish', 'H264');
    const t = await token(server, ROOM, { identity: 'bad', role: 'publisher' });
    const viewerToken = await token(server, ROOM, { identity: 'v2', role: 'viewer' });
    const otherRoom = await token(server, 'other-room', { identity: 'bad', role: 'publisher' });
    const noCodec = good
      .replace(/a=rtpmap:(\d+) H264\/90000/g, 'a=rtpmap:$1 H265/90000')
      .replace(/a=rtpmap:(\d+) opus\/48000\/2/g, 'a=rtpmap:$1 L16/48000/2');
    // Only H.264 High (64xxxx) and no Opus: nothing the RTP-level path decodes.
    const highOnly = good
      .replace(/profile-level-id=42[0-9a-f]{4}/gi, 'profile-level-id=640c1f')
      .replace(/a=rtpmap:(\d+) opus\/48000\/2/g, 'a=rtpmap:$1 L16/48000/2');
    const cases: Array<[string, Promise<Response>, number, string]> = [
      ['wrong content type', post('whip', t, good, 'text/plain'), 415, 'unsupported_media_type'],
      ['no token', post('whip', null, good), 401, 'unauthorized'],
      ['forged token', post('whip', `${t.slice(0, -4)}AAAA`, good), 401, 'unauthorized'],
      ['token for another room', post('whip', otherRoom, good), 403, 'forbidden'],
      ['viewer token on WHIP', post('whip', viewerToken, good), 403, 'forbidden'],
      ['no usable codec', post('whip', t, noCodec), 400, 'invalid_sdp'],
      ['not an SDP', post('whip', t, 'hello'), 400, 'invalid_sdp'],
      // The endpoint form refuses alike.
      [
        'wrong content type at /whip',
        postAt(`/whip/${ROOM}`, t, good, 'text/plain'),
        415,
        'unsupported_media_type',
      ],
      ['token for another room at /whip', postAt(`/whip/${ROOM}`, otherRoom, good), 403, 'forbidden'],
      [
        'forged token at /whep',
        postAt(`/whep/${ROOM}`, `${viewerToken.slice(0, -4)}AAAA`, good),
        401,
        'unauthorized',
      ],
      ['no usable codec at /whep', postAt(`/whep/${ROOM}`, viewerToken, noCodec), 400, 'invalid_sdp'],
      ['H.264 High profile only', postAt(`/whip/${ROOM}`, t, highOnly), 400, 'invalid_sdp'],
      // A viewer's WHEP offer that sends media: refused by the worker's relay after the join, undone.
      ['a sending offer at /whep', postAt(`/whep/${ROOM}`, viewerToken, good), 403, 'forbidden'],
    ];
    for (const [what, pending, status, code] of cases) {
      const res = await pending;
      const body = (await res.json()) as { error: string };
      expect({ what, status: res.status, error: body.error }).toEqual({ what, status, error: code });
    }
    expect((await participants()).length).toBe(before);
  });
});
