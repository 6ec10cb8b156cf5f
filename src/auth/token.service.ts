import { Inject, Injectable } from '@nestjs/common';
import type { ClientRole } from '../../workers/protocol/media';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { ForbiddenError } from '../common/errors';
import { signJoinToken, verifyJoinToken, type JoinClaims } from './join-token';
import { AUTH_SECRETS, type AuthSecrets } from './secrets';

export interface IssuedToken {
  token: string;
  roomId: string;
  identity: string;
  displayName: string;
  role: ClientRole;
  expiresAt: string;
}

/** Issues and checks join tokens with JWT_SECRET (configured or generated). */
@Injectable()
export class TokenService {
  constructor(
    @Inject(AUTH_SECRETS) private readonly secrets: AuthSecrets,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  issue(req: {
    roomId: string;
    identity: string;
    displayName: string;
    role: ClientRole;
    ttlSeconds?: number;
  }): IssuedToken {
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + (req.ttlSeconds ?? this.config.tokenTtlSeconds);
    const token = signJoinToken({ ...req, iat, exp }, this.secrets.jwtSecret);
    return { token, ...req, expiresAt: new Date(exp * 1000).toISOString() };
  }

  /** Claims of a valid token for this room; UnauthorizedError or ForbiddenError otherwise. */
  verifyForRoom(token: string, roomId: string): JoinClaims {
    const claims = verifyJoinToken(token, this.secrets.jwtSecret);
    if (claims.roomId !== roomId) throw new ForbiddenError('this join token is for another room');
    return claims;
  }
}
