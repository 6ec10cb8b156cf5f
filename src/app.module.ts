import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from './config/config';
import { ConfigModule } from './config/config.module';
import { HealthModule } from './health/health.module';
import { MediaModule } from './media/media.module';
import { RedisModule } from './redis/redis.module';
import { RoomsModule } from './rooms/rooms.module';
import { SignalingModule } from './signaling/signaling.module';

@Module({})
export class AppModule {
  static register(config: AppConfig, redisUrl: string): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        RedisModule.forRoot(redisUrl),
        MediaModule,
        RoomsModule,
        SignalingModule,
        HealthModule,
      ],
    };
  }
}
