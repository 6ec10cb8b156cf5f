import { api, ensureRoom, token } from '../../helpers/api';
import { BLUE, GREEN, RED, useLiveServer } from '../../helpers/live-room';
import { frameContainsColour, goertzel, rgbToYuv } from '../../helpers/media-analysis';
import { sample } from '../../helpers/metrics';
import { waitFor } from '../../helpers/signal';
import { TestClient, type TestClientOptions } from '../../helpers/wrtc-client';

interface Ready {
  status: string;
  load: { capacity: number; committed: number; cpuLoad: number; loopDelayMs: number; full: boolean };
}

/**
 * Admission control with an artificially small node, with the default shared encode's costs
 * (src/config/config.ts SHARED_PARTICIPANT_COSTS): 2.4 units × 0.85 = 2.04 units. A room of two
 * standard publishers takes 0.8 (its one standard encode) + 2 × 0.45 = 1.7, so a third does not
 * fit (2.15), nor does a publisher opening another room (+1.25); a viewer (0.2) and an
 * audio-only participant (0.05 here, set through ADMISSION_COSTS) still do.
 * The CPU and lag gates stay off as in every test server (they depend on the machine's load;
 * LoadService's unit test covers them).
 */
describe('admission control', () => {
  const live = useLiveServer({
    NODE_CAPACITY: '2.4',
    ADMISSION_LIMIT: '0.85',
    ADMISSION_COSTS: '{"audioOnly":0.05}',
  });

  /** A client whose join may be refused: kept for closing either way. */
  async function tryJoin(roomId: string, identity: string, opts: Partial<TestClientOptions>) {
    await ensureRoom(live.server, roomId);
    const t = await token(live.server, roomId, { identity, displayName: identity, role: opts.role });
    const c = new TestClient(live.server.url, { roomId, displayName: identity, token: t, ...opts });
    live.clients.push(c);
    return { client: c, started: c.start().then(() => c) };
  }

  const ready = async () => (await api<Ready>(live.server, '/readyz')).body;
  const metric = async (name: string) =>
    sample(await (await fetch(`${live.server.url}/metrics`)).text(), name);

  it('refuses the join beyond capacity with server_busy, shows the node full, and leaves the call untouched', async () => {
    const alice = await live.join('adm-1', 'alice', { colour: RED, toneHz: 440 });
    const bob = await live.join('adm-1', 'bob', { colour: BLUE, toneHz: 880 });
    for (const c of [alice, bob])
      await waitFor(
        () =>
          c.latestFrame !== null &&
          frameContainsColour(c.latestFrame, rgbToYuv(RED)) &&
          frameContainsColour(c.latestFrame, rgbToYuv(BLUE)),
        45000,
        `${c.opts.displayName} to see both colours`,
      );

    // 1.7 units committed: another standard publisher would pass 2.04, so the node is full.
    const full = await ready();
    expect(full.status).toBe('full');
    expect(full.load).toMatchObject({ capacity: 2.4, full: true });
    expect(full.load.committed).toBeCloseTo(1.7);
    expect(await metric('mcu_node_full')).toBe(1);

    const framesBefore = [alice.framesReceived, bob.framesReceived];
    const eventsBefore = alice.events.length;
    const carol = await tryJoin('adm-1', 'carol', { colour: GREEN, toneHz: 660 });
    await expect(carol.started).rejects.toMatchObject({
      code: 'server_busy',
      message: expect.stringMatching(/at capacity .*try again later/),
    });
    // Another room on the same node is refused too: capacity is the node's, not the room's.
    const dave = await tryJoin('adm-2', 'dave', { colour: GREEN });
    await expect(dave.started).rejects.toMatchObject({ code: 'server_busy' });

    // Nothing changed for those already in: same roster, nobody told of a join, media flowing.
    const roster = await api<{ participants: { participantId: string }[] }>(
      live.server,
      '/api/rooms/adm-1/participants',
    );
    expect(roster.body.participants.map((p) => p.participantId).sort()).toEqual(
      [alice.participantId, bob.participantId].sort(),
    );
    await waitFor(
      () => alice.framesReceived > framesBefore[0] + 15 && bob.framesReceived > framesBefore[1] + 15,
      20000,
      'frames to keep flowing after the refusal',
    );
    expect(alice.events.slice(eventsBefore).map((e) => e.event)).not.toContain('participant-joined');
    for (const c of [alice, bob]) {
      const f = c.latestFrame;
      expect(f && frameContainsColour(f, rgbToYuv(RED)) && frameContainsColour(f, rgbToYuv(BLUE))).toBe(true);
      expect(f && frameContainsColour(f, rgbToYuv(GREEN))).toBe(false);
    }
    expect((await ready()).load.committed).toBeCloseTo(1.7);

    // A viewer costs less: it is still admitted and sees the call.
    const viewer = await tryJoin('adm-1', 'vera', { role: 'viewer' });
    const vera = await viewer.started;
    await waitFor(
      () => vera.latestFrame !== null && frameContainsColour(vera.latestFrame, rgbToYuv(RED)),
      45000,
      'the viewer to see the call',
    );
    expect((await ready()).load.committed).toBeCloseTo(1.9);

    // So is an audio-only participant (declared at join, confirmed by its offer): it hears both.
    const audio = await tryJoin('adm-1', 'olga', { toneHz: 660, audioOnly: true });
    const olga = await audio.started;
    await waitFor(
      () => {
        const a = olga.recentAudio(1000);
        return (
          a.length >= 24000 &&
          goertzel(a, olga.audioSampleRate, 440) > 0.1 &&
          goertzel(a, olga.audioSampleRate, 880) > 0.1
        );
      },
      45000,
      'the audio-only participant to hear both publishers',
    );
    expect(olga.pc.getReceivers().filter((r) => r.track.kind === 'video')).toHaveLength(0);
    expect((await ready()).load.committed).toBeCloseTo(1.95);

    // Someone leaves: room again for a publisher.
    await bob.close();
    await waitFor(() => alice.eventsNamed('participant-left').length > 0, 20000, 'bob to leave');
    const afterLeave = await ready();
    expect(afterLeave.load.committed).toBeCloseTo(1.5);
    // Still `full` for a new call (a room of its own needs 1.25), not for this room (0.45).
    expect(afterLeave.load.full).toBe(true);
    const again = await tryJoin('adm-1', 'carol-again', { colour: GREEN, toneHz: 660 });
    await again.started;
    await waitFor(
      () => alice.latestFrame !== null && frameContainsColour(alice.latestFrame, rgbToYuv(GREEN)),
      45000,
      'the admitted newcomer to appear',
    );
  });
});
