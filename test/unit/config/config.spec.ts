import * as path from 'node:path';
import { ConfigError, loadConfig } from '../../../src/config/config';

describe('loadConfig', () => {
  it('gives a working default with an empty environment', () => {
    const c = loadConfig({});
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(3000);
    expect(c.redisUrl).toBeUndefined();
    expect(c.recordingsDir).toBe(path.resolve('recordings'));
    expect(c.media.defaultProfile).toBe('standard');
    expect(Object.isFrozen(c.media)).toBe(true);
  });

  it('reads HOST, PORT, REDIS_URL and RECORDINGS_DIR', () => {
    const c = loadConfig({
      HOST: '0.0.0.0',
      PORT: '8080',
      REDIS_URL: 'redis://h:6380/2',
      RECORDINGS_DIR: '/srv/rec',
    });
    expect(c).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      redisUrl: 'redis://h:6380/2',
      recordingsDir: '/srv/rec',
    });
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '' }).port).toBe(3000);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['REDIS_URL', 'localhost:6379'],
    ['ADMIN_API_KEY', 'short'],
    ['MEDIA_DEFAULT_PROFILE', 'ultra'],
    ['MEDIA_MAX_PARTICIPANTS', '0'],
    ['LOG_LEVEL', 'verbose'],
  ])('a bad %s (%s) stops the boot with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(
      new RegExp(`^Invalid configuration:[\\s\\S]*${name}`),
    );
  });

  it('rejects ICE_SERVERS that are not a JSON array of servers', () => {
    expect(() => loadConfig({ ICE_SERVERS: '{"urls":1}' })).toThrow(/ICE_SERVERS/);
    expect(loadConfig({ ICE_SERVERS: '[{"urls":"stun:stun.example.org"}]' }).media.iceServers).toHaveLength(
      1,
    );
  });
});
