import { MediaSupervisor } from '../../../src/media/media-supervisor.service';
import type { RoomStats } from '../../../workers/protocol/media';
import { goertzel } from '../../helpers/media-analysis';
import { useLiveServer } from '../../helpers/live-room';
import { waitFor } from '../../helpers/signal';
import type { TestClient } from '../../helpers/wrtc-client';

const ROOM = 'audio-only-rtp';
const TONES = [440, 660, 880];

/**
 * Audio-only wrtc clients (no video section in the offer) are served by the RTP-level member:
 * mix-minus by content, and one shared Opus encode for the listeners who are silent.
 */
describe('audio-only participants on the RTP-level path (real worker, real wrtc clients)', () => {
  const live = useLiveServer();

  async function stats(): Promise<RoomStats> {
    const worker = live.server.app.get(MediaSupervisor).get(ROOM);
    if (!worker) throw new Error('no worker for the room');
    return (await worker.request('room.stats', {})) as RoomStats;
  }

  it('speakers hear the others and not themselves; silent listeners hear everyone from one shared encode', async () => {
    const speakers: TestClient[] = [];
    for (let i = 0; i < TONES.length; i++) {
      speakers.push(
        await live.join(ROOM, `speaker-${i}`, { audioOnly: true, toneHz: TONES[i], toneAmplitude: 0.2 }),
      );
    }
    const silent: TestClient[] = [];
    for (let i = 0; i < 2; i++)
      silent.push(await live.join(ROOM, `silent-${i}`, { audioOnly: true, toneHz: 0 }));

    const hears = (c: TestClient, hz: number) => goertzel(c.recentAudio(1000), c.audioSampleRate, hz);
    for (let i = 0; i < speakers.length; i++) {
      const c = speakers[i];
      const others = TONES.filter((_, j) => j !== i);
      await waitFor(
        () => others.every((hz) => hears(c, hz) > 0.15),
        45000,
        `speaker ${i} to hear ${others.join(' and ')} Hz`,
      );
      const own = hears(c, TONES[i]);
      expect(own).toBeLessThan(0.02);
      for (const hz of others) expect(hears(c, hz)).toBeGreaterThan(own * 10);
    }
    for (const [k, c] of silent.entries()) {
      await waitFor(
        () => TONES.every((hz) => hears(c, hz) > 0.1),
        45000,
        `silent listener ${k} to hear all three`,
      );
    }

    // Five listeners; the three speakers encode their own mix-minus, the two silent ones share
    // one encode of the full mix: four encodes per frame, not five.
    let last = (await stats()).audioEncodes;
    for (const deadline = Date.now() + 20000; Date.now() < deadline;) {
      if (last.sharedListeners === 2 && last.own === 3) break;
      await new Promise((r) => setTimeout(r, 200));
      last = (await stats()).audioEncodes;
    }
    expect(last).toEqual({ shared: 1, own: 3, sharedListeners: 2 });
    const s = await stats();
    expect(s.participants).toHaveLength(5);
    expect(s.audioEncodes.own + s.audioEncodes.shared).toBeLessThan(s.participants.length);
  });
});
