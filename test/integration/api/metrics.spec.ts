import { MetricsService } from '../../../src/metrics/metrics.service';
import { RecordingWorkerProcess } from '../../../src/recordings/recording-worker-process';
import { sample } from '../../helpers/metrics';
import { expectWorkerDeaths } from '../../helpers/worker-deaths';
import { createRoom, token } from '../../helpers/api';
import { waitFor } from '../../helpers/signal';
import { TestClient } from '../../helpers/wrtc-client';
import { useLiveServer } from '../../helpers/live-room';

describe('GET /metrics', () => {
  const live = useLiveServer({ METRICS_POLL_MS: '300' });
  const { clients } = live;

  async function scrape(): Promise<string> {
    const res = await fetch(`${live.server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    return res.text();
  }

  it('reports rooms, participants, per-worker CPU and memory, composed fps, underruns and job states', async () => {
    await createRoom(live.server, { id: 'measured' });
    await createRoom(live.server, { id: 'idle-room' });
    for (const [identity, role] of [
      ['m1', 'publisher'],
      ['m2', 'publisher'],
      ['mv', 'viewer'],
    ] as const) {
      clients.push(
        await TestClient.connect(live.server.url, {
          roomId: 'measured',
          displayName: identity,
          role,
          colour: role === 'publisher' ? { r: 200, g: 10, b: 10 } : undefined,
          toneHz: role === 'publisher' ? 440 : undefined,
          token: await token(live.server, 'measured', { identity, role }),
        }),
      );
    }
    await waitFor(() => clients.every((c) => c.framesReceived > 0), 45000, 'frames');
    const metrics = live.server.app.get(MetricsService);
    let text = '';
    await waitFor(
      () => {
        void metrics.poll();
        void scrape().then((t) => (text = t));
        return (
          (sample(text, 'mcu_composed_fps', { room: 'measured', profile: 'standard' }) ?? 0) > 0 &&
          (sample(text, 'mcu_delivered_fps', { room: 'measured', profile: 'standard' }) ?? 0) > 0
        );
      },
      30000,
      'composed and delivered fps to be reported',
      500,
    );
    text = await scrape();
    expect(sample(text, 'mcu_rooms', { state: 'configured' })).toBe(2);
    expect(sample(text, 'mcu_rooms', { state: 'active' })).toBe(1);
    expect(sample(text, 'mcu_participants', { role: 'publisher' })).toBe(2);
    expect(sample(text, 'mcu_participants', { role: 'viewer' })).toBe(1);
    expect(sample(text, 'mcu_media_workers')).toBe(1);
    expect(sample(text, 'mcu_media_worker_cpu_seconds', { room: 'measured' })).toBeGreaterThan(0);
    expect(sample(text, 'mcu_media_worker_rss_bytes', { room: 'measured' })).toBeGreaterThan(
      10 * 1024 * 1024,
    );
    expect(sample(text, 'mcu_audio_underruns', { room: 'measured' })).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'mcu_media_worker_event_loop_delay_ms', { room: 'measured' })).toBeGreaterThan(0);
    expect(text).toContain('# TYPE mcu_delivered_fps gauge');
    for (const state of ['waiting', 'active', 'completed', 'failed', 'delayed']) {
      expect(sample(text, 'mcu_recording_jobs', { state })).toBeGreaterThanOrEqual(0);
    }
  });

  it('counts a worker killed by a signal as a death (mcu_worker_deaths_total), and the recording worker comes back', async () => {
    const recordingWorker = live.server.app.get(RecordingWorkerProcess);
    const pid = recordingWorker.pid as number;
    expect(pid).toBeGreaterThan(0);
    expect(sample(await scrape(), 'mcu_worker_deaths_total', { kind: 'recording' })).toBeUndefined();
    expectWorkerDeaths(live.server, 1);
    process.kill(pid, 'SIGKILL');
    let text = '';
    await waitFor(
      () => {
        void scrape().then((t) => (text = t));
        return sample(text, 'mcu_worker_deaths_total', { kind: 'recording', signal: 'SIGKILL' }) === 1;
      },
      15000,
      'the death to be counted',
      200,
    );
    await waitFor(() => (recordingWorker.pid ?? pid) !== pid, 15000, 'the recording worker to be restarted');
    expect(text).toContain('# TYPE mcu_worker_deaths_total counter');
  });
});
