import { Global, Module } from '@nestjs/common';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { RedisService } from '../redis/redis.module';
import { ApiKeyGuard } from './api-key.guard';
import { RateLimiter } from './rate-limiter';
import { AUTH_SECRETS, loadOrCreateSecrets } from './secrets';
import { TokenService } from './token.service';

export const JOIN_RATE_LIMITER = Symbol('JOIN_RATE_LIMITER');
export const TOKEN_RATE_LIMITER = Symbol('TOKEN_RATE_LIMITER');

/**
 * Global so that every module with admin endpoints (rooms, recordings) can put ApiKeyGuard on
 * its controllers without wiring the secrets again.
 */
@Global()
@Module({
  providers: [
    { provide: AUTH_SECRETS, inject: [APP_CONFIG], useFactory: (c: AppConfig) => loadOrCreateSecrets(c) },
    {
      provide: JOIN_RATE_LIMITER,
      inject: [APP_CONFIG, RedisService],
      useFactory: (c: AppConfig, r: RedisService) =>
        new RateLimiter(r.client, c.redisKeyPrefix, c.limits.joinsPerMinute, 'join'),
    },
    {
      provide: TOKEN_RATE_LIMITER,
      inject: [APP_CONFIG, RedisService],
      useFactory: (c: AppConfig, r: RedisService) =>
        new RateLimiter(r.client, c.redisKeyPrefix, c.limits.tokensPerMinute, 'token'),
    },
    ApiKeyGuard,
    TokenService,
  ],
  exports: [AUTH_SECRETS, JOIN_RATE_LIMITER, TOKEN_RATE_LIMITER, ApiKeyGuard, TokenService],
})
export class AuthModule {}
