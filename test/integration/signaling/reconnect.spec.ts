import { frameContainsColour, rgbToYuv } from '../../helpers/media-analysis';
import { api, createRoom } from '../../helpers/api';
import { waitFor } from '../../helpers/signal';
import type { Rgb } from '../../../workers/media/engine/video/i420';
import { BLUE, RED, useLiveServer } from '../../helpers/live-room';

describe('the same identity joining again (reconnect after a network change)', () => {
  const live = useLiveServer();

  const join = (roomId: string, identity: string, colour: Rgb) => live.join(roomId, identity, { colour });

  it('replaces the old session: same participant id, old socket kicked, one entry, media on the new connection', async () => {
    await createRoom(live.server, { id: 'roam' });
    const other = await join('roam', 'other', BLUE);
    const first = await join('roam', 'mover', RED);
    await waitFor(
      () => !!other.latestFrame && frameContainsColour(other.latestFrame, rgbToYuv(RED)),
      45000,
      'red before the move',
    );

    const second = await join('roam', 'mover', RED);
    expect(second.participantId).toBe(first.participantId);
    await waitFor(() => first.socket.disconnected, 10000, 'the old socket to be disconnected');
    expect(first.eventsNamed('kicked')).toEqual([{ reason: 'replaced', message: expect.any(String) }]);

    const list = await api<{ participants: { identity: string }[] }>(
      live.server,
      '/api/rooms/roam/participants',
    );
    expect(list.body.participants.map((p) => p.identity).sort()).toEqual(['mover', 'other']);
    await waitFor(
      () => other.eventsNamed('participant-joined').length >= 2,
      10000,
      'participant-joined after the move',
    );
    expect(other.eventsNamed('participant-left')).toEqual([
      { participantId: first.participantId, reason: 'replaced' },
    ]);

    // The new connection gets the composite and still contributes its picture.
    await waitFor(
      () => !!second.latestFrame && frameContainsColour(second.latestFrame, rgbToYuv(BLUE)),
      45000,
      'the new connection to see blue',
    );
    other.latestFrame = null;
    await waitFor(
      () => !!other.latestFrame && frameContainsColour(other.latestFrame, rgbToYuv(RED)),
      45000,
      'red after the move',
    );
  });

  it('the old connection closing late does not remove the new session', async () => {
    await createRoom(live.server, { id: 'late' });
    const first = await join('late', 'phone', RED);
    const second = await join('late', 'phone', RED);
    await first.close();
    await waitFor(() => first.socket.disconnected, 10000, 'old socket closed');
    const list = await api<{ participants: { participantId: string }[] }>(
      live.server,
      '/api/rooms/late/participants',
    );
    expect(list.body.participants.map((p) => p.participantId)).toEqual([second.participantId]);
  });

  it('a server mute survives a reconnect', async () => {
    await createRoom(live.server, { id: 'stubborn' });
    const first = await join('stubborn', 'loud', RED);
    await api(live.server, `/api/rooms/stubborn/participants/${first.participantId}/mute`, {
      method: 'POST',
      body: { kind: 'audio' },
    });
    const second = await join('stubborn', 'loud', RED);
    const list = await api<{ participants: Record<string, unknown>[] }>(
      live.server,
      '/api/rooms/stubborn/participants',
    );
    expect(list.body.participants).toEqual([
      expect.objectContaining({ participantId: second.participantId, audioMuted: true, videoMuted: false }),
    ]);
    expect(second.joined.room.participants).toEqual([
      expect.objectContaining({ identity: 'loud', audioMuted: true }),
    ]);
  });
});
