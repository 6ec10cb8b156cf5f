import { createHmac } from 'node:crypto';
import { clientIceServers, turnCredentials } from '../../../src/auth/turn-credentials';

describe('TURN REST-API credentials', () => {
  it('username is expiry:identity and the password is base64 HMAC-SHA1 of it with the shared secret', () => {
    const c = turnCredentials(
      ['turn:turn.example:3478?transport=udp'],
      's3cret',
      'ann',
      600,
      1_700_000_000_000,
    );
    expect(c.username).toBe('1700000600:ann');
    expect(c.credential).toBe(createHmac('sha1', 's3cret').update('1700000600:ann').digest('base64'));
    expect(c.urls).toEqual(['turn:turn.example:3478?transport=udp']);
  });

  it('an identity cannot smuggle a colon into the expiry field', () => {
    expect(turnCredentials(['turn:x'], 'k', 'a:9999999999', 60, 0).username).toBe('60:a_9999999999');
  });
});

describe('the ICE servers a client is given', () => {
  const stun = { urls: 'stun:stun.example.org' };

  it('are ICE_SERVERS alone without TURN', () => {
    expect(clientIceServers([stun], null, 'ann')).toEqual([stun]);
  });

  it('add the TURN URLs with credentials of the participant, valid for TURN_TTL_S', () => {
    const turn = { urls: ['turn:t.example:3478'], secret: 's'.repeat(16), ttlSeconds: 300 };
    const servers = clientIceServers([stun], turn, 'bob', 1_700_000_000_000);
    expect(servers).toEqual([
      stun,
      {
        urls: ['turn:t.example:3478'],
        username: '1700000300:bob',
        credential: createHmac('sha1', 's'.repeat(16)).update('1700000300:bob').digest('base64'),
      },
    ]);
  });
});
