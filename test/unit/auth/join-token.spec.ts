import { createHmac } from 'node:crypto';
import { UnauthorizedError } from '../../../src/common/errors';
import { signJoinToken, verifyJoinToken, type JoinClaims } from '../../../src/auth/join-token';

const SECRET = 's'.repeat(40);
const NOW = 1_800_000_000;
const claims: JoinClaims = {
  roomId: 'r1',
  identity: 'alice',
  displayName: 'Alice',
  role: 'viewer',
  iat: NOW,
  exp: NOW + 60,
};

describe('join tokens', () => {
  it('a signed token verifies and gives back its claims', () => {
    expect(verifyJoinToken(signJoinToken(claims, SECRET), SECRET, NOW)).toEqual(claims);
  });

  it('a token is a three-part HS256 JWT', () => {
    const [header] = signJoinToken(claims, SECRET).split('.');
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
  });

  it('an expired token is rejected, also at the exact expiry second', () => {
    const t = signJoinToken(claims, SECRET);
    expect(() => verifyJoinToken(t, SECRET, NOW + 60)).toThrow(/expired/);
    expect(() => verifyJoinToken(t, SECRET, NOW + 3600)).toThrow(UnauthorizedError);
  });

  it('a token signed with another secret is rejected', () => {
    expect(() => verifyJoinToken(signJoinToken(claims, 'x'.repeat(40)), SECRET, NOW)).toThrow(/signature/);
  });

  it('a token whose payload was edited is rejected', () => {
    const [h, , s] = signJoinToken(claims, SECRET).split('.');
    const forged = Buffer.from(
      JSON.stringify({
        iss: 'mcu',
        room: 'r1',
        sub: 'alice',
        name: 'A',
        role: 'publisher',
        iat: NOW,
        exp: NOW + 60,
      }),
    ).toString('base64url');
    expect(() => verifyJoinToken(`${h}.${forged}.${s}`, SECRET, NOW)).toThrow(UnauthorizedError);
  });

  it('an unsigned (alg none) token is rejected even with a valid payload', () => {
    const h = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const p = signJoinToken(claims, SECRET).split('.')[1];
    expect(() => verifyJoinToken(`${h}.${p}.`, SECRET, NOW)).toThrow(UnauthorizedError);
  });

  it('a well-signed token with a wrong payload shape is rejected', () => {
    const h = signJoinToken(claims, SECRET).split('.')[0];
    const p = Buffer.from(JSON.stringify({ room: 'r1' })).toString('base64url');
    const sig = createHmac('sha256', SECRET).update(`${h}.${p}`).digest('base64url');
    expect(() => verifyJoinToken(`${h}.${p}.${sig}`, SECRET, NOW)).toThrow(/payload/);
  });

  it('garbage is rejected as malformed', () => {
    for (const t of ['', 'abc', 'a.b', 'a.b.c.d'])
      expect(() => verifyJoinToken(t, SECRET, NOW)).toThrow(UnauthorizedError);
  });
});
