import * as path from 'node:path';
import {
  ParticipantNotFoundError,
  UnavailableError,
  WorkerClosedError,
  WorkerTimeoutError,
} from '../../src/common/errors';
import { setLogSink } from '../../workers/kernel/logger';
import { MediaWorker, type WorkerDeath } from '../../src/media/media-worker';
import type { MediaNotification, RoomMediaSettings } from '../../workers/protocol/media';

const fixture = (name: string) => path.join(__dirname, '../fixtures/workers', name);
const settings: RoomMediaSettings = {
  layout: 'grid',
  fit: 'crop',
  pinnedParticipantId: null,
  maxParticipants: 4,
  iceServers: [],
  maxSdpBytes: 65536,
  maxIceCandidatesPerParticipant: 64,
  qualityRecoverMs: 10000,
  qualityShedding: true,
};

function worker(
  entry: string,
  overrides: Partial<ConstructorParameters<typeof MediaWorker>[0]> = {},
  onNotification?: (n: MediaNotification) => void,
): MediaWorker {
  return new MediaWorker(
    {
      roomId: 'r1',
      settings,
      entry,
      requestTimeoutMs: 500,
      startTimeoutMs: 3000,
      logLevel: 'warn',
      ...overrides,
    },
    onNotification,
  );
}

describe('MediaWorker and its channel (real child processes)', () => {
  beforeAll(() => setLogSink(() => undefined));

  it('request() resolves with the answer to its own id, in any order', async () => {
    const w = worker(fixture('echo.js'));
    await w.start();
    expect(w.state).toBe('running');
    const results = await Promise.all([
      w.request('participant.setMuted', { participantId: 'a', kind: 'audio', muted: true }),
      w.request('participant.setMuted', { participantId: 'b', kind: 'video', muted: false }),
    ]);
    expect(
      results.map((r) => (r as unknown as { echo: { participantId: string } }).echo.participantId),
    ).toEqual(['a', 'b']);
    await w.close();
    expect(w.state).toBe('closed');
  });

  it('errors cross the boundary as the same typed error class, with their code and the remote stack', async () => {
    const w = worker(fixture('echo.js'));
    await w.start();
    const err = await w.request('participant.leave', { participantId: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParticipantNotFoundError);
    expect(err).toMatchObject({
      name: 'ParticipantNotFoundError',
      code: 'not_found',
      message: 'nobody here',
    });
    // Where the answer arrived, then where it was thrown.
    expect((err as Error).stack).toMatch(
      /worker-channel[\s\S]*thrown in media worker pid \d+ \(participant\.leave\)[\s\S]*at fixtureRoom/,
    );
    await w.close();
    expect(w.state).toBe('closed');
  });

  it('notifications arrive before the response that follows them', async () => {
    const seen: string[] = [];
    const w = worker(fixture('echo.js'), {}, (n) => seen.push(n.event));
    await w.start();
    await w.request('room.stats', {});
    expect(seen).toEqual(['room.activeSpeaker']);
    await w.close();
  });

  it('a request with no answer is rejected with WorkerTimeoutError', async () => {
    const w = worker(fixture('silent.js'));
    await w.start();
    await expect(w.request('room.stats', {})).rejects.toBeInstanceOf(WorkerTimeoutError);
    // It does not answer worker.close either: SIGTERM (which it obeys) after 500 ms.
    await w.close(500);
  });

  it('pending requests are rejected with WorkerClosedError when the worker is SIGKILLed, and died is emitted once', async () => {
    const w = worker(fixture('silent.js'), { requestTimeoutMs: 30000 });
    await w.start();
    const died = new Promise<WorkerDeath>((resolve) => w.once('died', resolve));
    const pending = w.request('room.stats', {});
    process.kill(w.pid as number, 'SIGKILL');
    await expect(pending).rejects.toBeInstanceOf(WorkerClosedError);
    await expect(died).resolves.toMatchObject({ signal: 'SIGKILL', reason: 'killed by SIGKILL' });
    expect(w.state).toBe('died');
    await expect(w.request('room.stats', {})).rejects.toBeInstanceOf(WorkerClosedError);
  });

  it('a worker killed by a signal while closing has died: no crash passes for a clean close', async () => {
    const w = worker(fixture('silent.js'));
    await w.start();
    const died = new Promise<WorkerDeath>((resolve) => w.once('died', resolve));
    const closing = w.close(5000);
    process.kill(w.pid as number, 'SIGSEGV');
    await closing;
    await expect(died).resolves.toMatchObject({ signal: 'SIGSEGV' });
    expect(w.state).toBe('died');
  });

  it('start() fails clearly when the worker rejects its settings', async () => {
    const w = worker(fixture('bad-settings.js'));
    await expect(w.start()).rejects.toThrow(/rejected its settings/);
  });

  it('start() fails with UnavailableError when the worker never says it is ready', async () => {
    const w = worker(fixture('never-ready.js'), { startTimeoutMs: 800 });
    await expect(w.start()).rejects.toBeInstanceOf(UnavailableError);
  });

  it('the real media worker starts, hosts a room and closes on request', async () => {
    const w = worker(path.resolve(__dirname, '../../dist/workers/media/main.js'), {
      requestTimeoutMs: 10000,
      startTimeoutMs: 20000,
    });
    await w.start();
    const stats = await w.request('room.stats', {});
    expect(stats.roomId).toBe('r1');
    expect(stats.participants).toEqual([]);
    await w.close();
    expect(w.state).toBe('closed');
  });
});
