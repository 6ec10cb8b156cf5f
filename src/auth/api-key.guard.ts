import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { UnauthorizedError } from '../common/errors';
import { apiKeyMatches, bearerOf } from './api-key';
import { AUTH_SECRETS, type AuthSecrets } from './secrets';

/** Every admin endpoint: `Authorization: Bearer <ADMIN_API_KEY>`, else 401. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(@Inject(AUTH_SECRETS) private readonly secrets: AuthSecrets) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    const key = bearerOf(req.headers.authorization);
    if (key === null) throw new UnauthorizedError('missing "Authorization: Bearer <admin API key>" header');
    if (!apiKeyMatches(key, this.secrets.adminApiKey)) throw new UnauthorizedError('invalid admin API key');
    return true;
  }
}
