import { MediaSupervisor } from '../../../src/media/media-supervisor.service';
import { frameContainsColour, goertzel, rgbToYuv } from '../../helpers/media-analysis';
import { api, createRoom } from '../../helpers/api';
import { waitFor } from '../../helpers/signal';
import type { TestClientOptions } from '../../helpers/wrtc-client';
import { BLUE, RED, useLiveServer } from '../../helpers/live-room';

describe('participants REST API with live peers', () => {
  const live = useLiveServer();

  /** Token display name in capitals: what the server reports is the token's, not the client's. */
  const join = (roomId: string, identity: string, extra: Partial<TestClientOptions> = {}) =>
    live.join(roomId, identity, { displayName: identity.toUpperCase(), ...extra });

  it('lists live participants, also in the room view, with identity, role and mute state', async () => {
    await createRoom(live.server, { id: 'listing' });
    const a = await join('listing', 'ann', { colour: RED });
    const v = await join('listing', 'vic', { role: 'viewer' });
    const res = await api<{ participants: Record<string, unknown>[] }>(
      live.server,
      '/api/rooms/listing/participants',
    );
    expect(res.status).toBe(200);
    expect(res.body.participants).toEqual([
      expect.objectContaining({
        participantId: a.participantId,
        identity: 'ann',
        displayName: 'ANN',
        role: 'publisher',
        profile: 'standard',
        audioMuted: false,
        videoMuted: false,
      }),
      expect.objectContaining({
        participantId: v.participantId,
        identity: 'vic',
        displayName: 'VIC',
        role: 'viewer',
      }),
    ]);
    const room = await api<Record<string, unknown>>(live.server, '/api/rooms/listing');
    expect(room.body).toMatchObject({ active: true, participants: res.body.participants });
    const list = await api<{ rooms: { id: string; participantCount: number; active: boolean }[] }>(
      live.server,
      '/api/rooms',
    );
    expect(list.body.rooms.find((r) => r.id === 'listing')).toMatchObject({
      active: true,
      participantCount: 2,
    });
  });

  it("a server-side audio mute takes the participant's voice out of the others' mix, and unmute brings it back", async () => {
    await createRoom(live.server, { id: 'hush' });
    const talker = await join('hush', 'talker', { toneHz: 880 });
    const listener = await join('hush', 'listener', { toneHz: 0 });
    const hears = () => goertzel(listener.recentAudio(500), listener.audioSampleRate, 880);
    await waitFor(
      () => listener.audioSamplesReceived > 48000 && hears() > 0.3,
      45000,
      'the listener to hear the tone',
    );

    const muted = await api(live.server, `/api/rooms/hush/participants/${talker.participantId}/mute`, {
      method: 'POST',
      body: { kind: 'audio' },
    });
    expect(muted).toMatchObject({
      status: 200,
      body: { participantId: talker.participantId, audioMuted: true, videoMuted: false },
    });
    await waitFor(() => hears() < 0.05, 20000, 'the tone to leave the mix');
    for (const c of [talker, listener]) {
      await waitFor(() => c.eventsNamed('muted-by-server').length === 1, 10000, 'muted-by-server');
      expect(c.eventsNamed('muted-by-server')[0]).toEqual({
        participantId: talker.participantId,
        kind: 'audio',
        muted: true,
      });
    }

    const unmuted = await api(live.server, `/api/rooms/hush/participants/${talker.participantId}/unmute`, {
      method: 'POST',
      body: { kind: 'audio' },
    });
    expect(unmuted.body).toMatchObject({ audioMuted: false });
    await waitFor(() => hears() > 0.3, 20000, 'the tone to come back');
  });

  it("a server-side video mute takes the participant's picture out of the composite", async () => {
    await createRoom(live.server, { id: 'blind' });
    const red = await join('blind', 'red', { colour: RED });
    const blue = await join('blind', 'blue', { colour: BLUE });
    const seesRed = () => !!blue.latestFrame && frameContainsColour(blue.latestFrame, rgbToYuv(RED));
    await waitFor(seesRed, 45000, 'red in the picture');
    const res = await api(live.server, `/api/rooms/blind/participants/${red.participantId}/mute`, {
      method: 'POST',
      body: { kind: 'video' },
    });
    expect(res.body).toMatchObject({ videoMuted: true });
    await waitFor(
      () => !seesRed() && frameContainsColour(blue.latestFrame!, rgbToYuv(BLUE)),
      20000,
      'red to leave the picture',
    );
  });

  it('mute bodies are validated', async () => {
    await createRoom(live.server, { id: 'mutebody' });
    const c = await join('mutebody', 'm', { toneHz: 0 });
    const path = `/api/rooms/mutebody/participants/${c.participantId}/mute`;
    expect((await api(live.server, path, { method: 'POST', body: {} })).status).toBe(400);
    expect((await api(live.server, path, { method: 'POST', body: { kind: 'screen' } })).status).toBe(422);
  });

  it('kicking a participant sends it `kicked`, disconnects it and tells the others', async () => {
    await createRoom(live.server, { id: 'kick' });
    const stay = await join('kick', 'stay', { colour: BLUE });
    const go = await join('kick', 'go', { colour: RED });
    const res = await api(live.server, `/api/rooms/kick/participants/${go.participantId}`, {
      method: 'DELETE',
    });
    expect(res.status).toBe(204);
    await waitFor(() => go.socket.disconnected, 10000, 'the kicked socket to be disconnected');
    expect(go.eventsNamed('kicked')).toEqual([{ reason: 'kicked', message: expect.any(String) }]);
    await waitFor(() => stay.eventsNamed('participant-left').length === 1, 10000, 'participant-left');
    expect(stay.eventsNamed('participant-left')[0]).toEqual({
      participantId: go.participantId,
      reason: 'kicked',
    });
    const list = await api<{ participants: { participantId: string }[] }>(
      live.server,
      '/api/rooms/kick/participants',
    );
    expect(list.body.participants.map((p) => p.participantId)).toEqual([stay.participantId]);
    expect(
      (await api(live.server, `/api/rooms/kick/participants/${go.participantId}`, { method: 'DELETE' }))
        .status,
    ).toBe(404);
  });

  it('pinning a participant changes the layout live and tells everyone', async () => {
    await createRoom(live.server, { id: 'pin' });
    const a = await join('pin', 'a', { colour: RED });
    const b = await join('pin', 'b', { colour: BLUE });
    const res = await api(live.server, '/api/rooms/pin', {
      method: 'PATCH',
      body: { layout: 'pinned', pinnedParticipantId: b.participantId },
    });
    expect(res).toMatchObject({
      status: 200,
      body: { layout: 'pinned', pinnedParticipantId: b.participantId },
    });
    for (const c of [a, b]) {
      await waitFor(() => c.eventsNamed('layout-changed').length === 1, 10000, 'layout-changed');
      expect(c.eventsNamed('layout-changed')[0]).toEqual({
        layout: 'pinned',
        fit: 'crop',
        pinnedParticipantId: b.participantId,
      });
    }
    expect((await api(live.server, '/api/rooms/pin')).body).toMatchObject({
      layout: 'pinned',
      pinnedParticipantId: b.participantId,
    });
  });

  it('a token for a room full of publishers is refused with 409, a viewer token is not', async () => {
    await createRoom(live.server, { id: 'tiny', maxParticipants: 1 });
    await join('tiny', 'first', { toneHz: 0 });
    const res = await api(live.server, '/api/rooms/tiny/tokens', {
      method: 'POST',
      body: { identity: 'second' },
    });
    expect(res).toMatchObject({
      status: 409,
      body: { error: 'room_full', message: expect.stringContaining('full') },
    });
    expect(
      (
        await api(live.server, '/api/rooms/tiny/tokens', {
          method: 'POST',
          body: { identity: 'second', role: 'viewer' },
        })
      ).status,
    ).toBe(201);
    // The identity already inside may get a token again (to reconnect).
    expect(
      (await api(live.server, '/api/rooms/tiny/tokens', { method: 'POST', body: { identity: 'first' } }))
        .status,
    ).toBe(201);
  });

  it('deleting a room ends it for everyone, frees its worker and forgets it', async () => {
    await createRoom(live.server, { id: 'ending' });
    const a = await join('ending', 'a', { colour: RED });
    const b = await join('ending', 'b', { toneHz: 0 });
    const supervisor = live.server.app.get(MediaSupervisor);
    const pid = supervisor.get('ending')?.pid;
    expect(pid).toBeGreaterThan(0);
    expect((await api(live.server, '/api/rooms/ending', { method: 'DELETE' })).status).toBe(204);
    expect(supervisor.get('ending')).toBeUndefined();
    for (const c of [a, b]) {
      await waitFor(() => c.socket.disconnected, 10000, 'sockets to be disconnected');
      expect(c.eventsNamed('room-ended')).toEqual([
        { roomId: 'ending', reason: 'deleted', message: expect.any(String) },
      ]);
    }
    expect((await api(live.server, '/api/rooms/ending')).status).toBe(404);
  });
});
