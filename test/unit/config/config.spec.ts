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
      ADMIN_API_KEY: 'a'.repeat(16),
      JWT_SECRET: 'j'.repeat(32),
      WEBHOOK_SECRET: 'w'.repeat(16),
    });
    expect(c).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      redisUrl: 'redis://h:6380/2',
      recordingsDir: '/srv/rec',
    });
  });

  it('names the announced address in RTMP ingest URLs unless RTMP_PUBLIC_HOST is set', () => {
    expect(loadConfig({ HOST: '0.0.0.0' }).ingress.rtmpPublicHost).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '0.0.0.0', ANNOUNCED_IP: '203.0.113.7' }).ingress.rtmpPublicHost).toBe(
      '203.0.113.7',
    );
    expect(
      loadConfig({ ANNOUNCED_IP: '203.0.113.7', RTMP_PUBLIC_HOST: 'live.example.com' }).ingress
        .rtmpPublicHost,
    ).toBe('live.example.com');
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

  describe('cluster mode (REDIS_URL set)', () => {
    const secrets = {
      ADMIN_API_KEY: 'a'.repeat(16),
      JWT_SECRET: 'j'.repeat(32),
      WEBHOOK_SECRET: 'w'.repeat(16),
    };

    it('refuses to boot without the shared secrets, naming each missing one', () => {
      expect(() => loadConfig({ REDIS_URL: 'redis://h:6379' })).toThrow(ConfigError);
      expect(() => loadConfig({ REDIS_URL: 'redis://h:6379' })).toThrow(
        /ADMIN_API_KEY, JWT_SECRET, WEBHOOK_SECRET: required when REDIS_URL is set/,
      );
      expect(() => loadConfig({ REDIS_URL: 'redis://h:6379', ...secrets, JWT_SECRET: '' })).toThrow(
        /^Invalid configuration:\n {2}JWT_SECRET: required when REDIS_URL is set/,
      );
    });

    it('boots with the three secrets; a single server without REDIS_URL needs none', () => {
      expect(loadConfig({ REDIS_URL: 'redis://h:6379', ...secrets }).node.clustered).toBe(true);
      expect(loadConfig({}).node.clustered).toBe(false);
    });
  });

  describe('drain and media networking', () => {
    it('defaults: SIGTERM stops at once, no announced IP, any port, no TURN', () => {
      const c = loadConfig({});
      expect(c.node.drainTimeoutS).toBe(0);
      expect(c.network).toEqual({ announcedIp: null, rtcPortRange: null, turn: null });
    });

    it('reads DRAIN_TIMEOUT_S, ANNOUNCED_IP, the RTC port range and TURN', () => {
      const c = loadConfig({
        DRAIN_TIMEOUT_S: '600',
        ANNOUNCED_IP: '203.0.113.7',
        RTC_MIN_PORT: '40000',
        RTC_MAX_PORT: '40099',
        TURN_URLS: 'turn:t.example.com:3478?transport=udp, turns:t.example.com:5349?transport=tcp',
        TURN_SECRET: 's'.repeat(16),
        TURN_TTL_S: '600',
      });
      expect(c.node.drainTimeoutS).toBe(600);
      expect(c.network).toEqual({
        announcedIp: '203.0.113.7',
        rtcPortRange: { min: 40000, max: 40099 },
        turn: {
          urls: ['turn:t.example.com:3478?transport=udp', 'turns:t.example.com:5349?transport=tcp'],
          secret: 's'.repeat(16),
          ttlSeconds: 600,
        },
      });
    });

    it.each([
      [{ ANNOUNCED_IP: 'my-host' }, /ANNOUNCED_IP/],
      [{ RTC_MIN_PORT: '40000' }, /RTC_MIN_PORT, RTC_MAX_PORT: set both or neither/],
      [{ RTC_MIN_PORT: '40100', RTC_MAX_PORT: '40000' }, /RTC_MIN_PORT: must not be above/],
      [{ RTC_MIN_PORT: '80', RTC_MAX_PORT: '90' }, /RTC_MIN_PORT/],
      [{ TURN_URLS: 'turn:t.example.com' }, /TURN_SECRET: required with TURN_URLS/],
      [{ TURN_URLS: 'stun:s.example.com', TURN_SECRET: 's'.repeat(16) }, /TURN_URLS/],
      [{ DRAIN_TIMEOUT_S: '-1' }, /DRAIN_TIMEOUT_S/],
    ])('rejects %p', (env, message) => {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(message);
    });
  });
});
