import { MetricsService } from '../../../src/metrics/metrics.service';
import { startTestServer } from '../../helpers/server';
import { createRoom, token } from '../../helpers/api';
import { waitFor } from '../../helpers/signal';
import { TestClient } from '../../helpers/wrtc-client';

/** The value of one sample line of a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}

describe('GET /metrics', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    server = await startTestServer({ METRICS_POLL_MS: '300' });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });

  async function scrape(): Promise<string> {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    return res.text();
  }

  it('reports rooms, participants, per-worker CPU and memory, composed fps, underruns and job states', async () => {
    await createRoom(server, { id: 'measured' });
    await createRoom(server, { id: 'idle-room' });
    for (const [identity, role] of [
      ['m1', 'publisher'],
      ['m2', 'publisher'],
      ['mv', 'viewer'],
    ] as const) {
      clients.push(
        await TestClient.connect(server.url, {
          roomId: 'measured',
          displayName: identity,
          role,
          colour: role === 'publisher' ? { r: 200, g: 10, b: 10 } : undefined,
          toneHz: role === 'publisher' ? 440 : undefined,
          token: await token(server, 'measured', { identity, role }),
        }),
      );
    }
    await waitFor(() => clients.every((c) => c.framesReceived > 0), 45000, 'frames');
    const metrics = server.app.get(MetricsService);
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
});
