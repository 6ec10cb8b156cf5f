import * as path from 'node:path';
import { loadRecordingWorkerConfig, RecordingWorkerConfigError } from '../../../workers/recording/config';

describe('the recording worker configuration (parsed by the worker itself)', () => {
  it('reads its variables with the server defaults', () => {
    expect(loadRecordingWorkerConfig({ REDIS_URL: 'redis://r:6379/2' })).toEqual({
      redisUrl: 'redis://r:6379/2',
      recordingsDir: path.resolve('recordings'),
      logLevel: 'info',
      concurrency: 1,
      retentionDays: 0,
    });
  });

  it('refuses to start without a Redis URL, saying the server passes one', () => {
    expect(() => loadRecordingWorkerConfig({ RECORDINGS_DIR: '/tmp/unused' })).toThrow(
      /REDIS_URL is required for a standalone recording worker/,
    );
  });

  it('names every bad variable; empty means unset', () => {
    let err: unknown;
    try {
      loadRecordingWorkerConfig({
        REDIS_URL: 'http://nope',
        RECORDING_CONCURRENCY: 'lots',
        LOG_LEVEL: 'loud',
        RECORDING_RETENTION_DAYS: '',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RecordingWorkerConfigError);
    const message = (err as Error).message;
    for (const name of ['REDIS_URL', 'RECORDING_CONCURRENCY', 'LOG_LEVEL']) expect(message).toContain(name);
    expect(message).not.toContain('RECORDING_RETENTION_DAYS');
  });
});
