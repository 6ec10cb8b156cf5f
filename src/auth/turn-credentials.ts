import { createHmac } from 'node:crypto';
import type { AppConfig, IceServer } from '../config/config';

export interface TurnServer {
  urls: string[];
  username: string;
  credential: string;
}

/**
 * Time-limited TURN credentials in the coturn REST-API scheme ("TURN REST API", draft-uberti-
 * behave-turn-rest): username `<expiry unix seconds>:<identity>`, password
 * base64(HMAC-SHA1(secret, username)). coturn started with `use-auth-secret` and the same
 * `static-auth-secret` checks them statelessly, so no per-user state is shared with the TURN
 * server and a leaked credential dies at its expiry.
 */
export function turnCredentials(
  urls: readonly string[],
  secret: string,
  identity: string,
  ttlSeconds: number,
  nowMs = Date.now(),
): TurnServer {
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds;
  // A colon in the identity would shift the expiry field for coturn: keep it out.
  const username = `${expiry}:${identity.replace(/:/g, '_')}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { urls: [...urls], username, credential };
}

/**
 * The ICE servers a client gets in its join response: ICE_SERVERS as configured, plus the
 * TURN_URLS with credentials of its own (identity = the participant's) when TURN is set up.
 */
export function clientIceServers(
  configured: readonly IceServer[],
  turn: AppConfig['network']['turn'],
  identity: string,
  nowMs = Date.now(),
): IceServer[] {
  const servers = configured.map((s) => ({ ...s }));
  if (turn) servers.push(turnCredentials(turn.urls, turn.secret, identity, turn.ttlSeconds, nowMs));
  return servers;
}
