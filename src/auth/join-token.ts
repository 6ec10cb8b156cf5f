import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { CLIENT_ROLES, type ClientRole } from '../../workers/protocol/media';
import { UnauthorizedError } from '../common/errors';

/**
 * Join tokens are compact JWTs (HS256) written with node:crypto: a signed statement that
 * `identity` may join `roomId` with `role` until `exp`. Small enough to write here and to audit,
 * so no JWT dependency.
 */
export interface JoinClaims {
  roomId: string;
  identity: string;
  displayName: string;
  role: ClientRole;
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
}

const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

const payloadSchema = z.object({
  iss: z.literal('mcu'),
  room: z.string().min(1),
  sub: z.string().min(1),
  name: z.string().min(1),
  role: z.enum(CLIENT_ROLES),
  iat: z.number().int(),
  exp: z.number().int(),
});

export function signJoinToken(claims: JoinClaims, secret: string): string {
  const payload = base64url(
    JSON.stringify({
      iss: 'mcu',
      room: claims.roomId,
      sub: claims.identity,
      name: claims.displayName,
      role: claims.role,
      iat: claims.iat,
      exp: claims.exp,
    }),
  );
  return `${HEADER}.${payload}.${mac(`${HEADER}.${payload}`, secret)}`;
}

/** Returns the claims of a well-signed, unexpired token, else throws UnauthorizedError. */
export function verifyJoinToken(
  token: string,
  secret: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): JoinClaims {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3 || token.length > 4096) throw new UnauthorizedError('malformed join token');
  const [header, payload, signature] = parts;
  // The header is fixed: comparing it whole rules out alg=none and every other algorithm.
  const expected = Buffer.from(mac(`${header}.${payload}`, secret));
  const given = Buffer.from(signature);
  if (header !== HEADER || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new UnauthorizedError('join token signature is invalid');
  }
  let parsed: z.infer<typeof payloadSchema>;
  try {
    parsed = payloadSchema.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
  } catch {
    throw new UnauthorizedError('join token payload is invalid');
  }
  if (parsed.exp <= nowSeconds) throw new UnauthorizedError('join token has expired');
  return {
    roomId: parsed.room,
    identity: parsed.sub,
    displayName: parsed.name,
    role: parsed.role,
    iat: parsed.iat,
    exp: parsed.exp,
  };
}

function mac(data: string, secret: string): string {
  return createHmac('sha256', secret).update(data).digest('base64url');
}

function base64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}
