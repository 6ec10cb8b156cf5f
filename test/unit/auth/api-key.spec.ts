import * as crypto from 'node:crypto';
import { apiKeyMatches, bearerOf } from '../../../src/auth/api-key';

jest.mock('node:crypto', () => {
  const actual = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return { ...actual, timingSafeEqual: jest.fn(actual.timingSafeEqual) };
});

describe('admin API key check', () => {
  const key = 'k'.repeat(43);

  it('accepts the configured key and rejects any other', () => {
    expect(apiKeyMatches(key, key)).toBe(true);
    expect(apiKeyMatches(key.slice(0, -1) + 'j', key)).toBe(false);
    expect(apiKeyMatches('', key)).toBe(false);
    expect(apiKeyMatches(key + 'k', key)).toBe(false);
  });

  it('compares fixed-length digests with timingSafeEqual, whatever the presented length', () => {
    const spy = crypto.timingSafeEqual as jest.MockedFunction<typeof crypto.timingSafeEqual>;
    spy.mockClear();
    apiKeyMatches('short', key);
    apiKeyMatches('x'.repeat(500), key);
    expect(spy).toHaveBeenCalledTimes(2);
    for (const [a, b] of spy.mock.calls) {
      expect((a as Buffer).length).toBe(32);
      expect((b as Buffer).length).toBe(32);
    }
  });

  it('reads the key of a Bearer header only', () => {
    expect(bearerOf(`Bearer ${key}`)).toBe(key);
    expect(bearerOf(`bearer ${key}`)).toBe(key);
    expect(bearerOf(`Basic ${key}`)).toBeNull();
    expect(bearerOf('Bearer')).toBeNull();
    expect(bearerOf(undefined)).toBeNull();
  });
});
