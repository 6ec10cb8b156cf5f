import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares a presented key with the configured one in constant time. Both sides are hashed
 * first so that the comparison takes the same time whatever the presented key's length (a
 * plain timingSafeEqual throws on unequal lengths, which would leak the key's length).
 */
export function apiKeyMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The key of an `Authorization: Bearer <key>` header, or null when the header has another form. */
export function bearerOf(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m ? m[1] : null;
}
