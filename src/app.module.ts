import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from './config/config';
import type { EmbeddedRedis } from './redis/embedded-redis';
import { ConfigModule } from './config/config.module';
import { AuthModule } from './auth/auth.module';
import { ClusterModule } from './cluster/cluster.module';
import { DrainModule } from './cluster/drain.module';
import { NodeStateModule } from './cluster/node-state';
import { HealthModule } from './health/health.module';
import { MediaModule } from './media/media.module';
import { MetricsModule } from './metrics/metrics.module';
import { RecordingsModule } from './recordings/recordings.module';
import { EgressModule } from './egress/egress.module';
import { IngressModule } from './ingress/ingress.module';
import { RedisModule } from './redis/redis.module';
import { RoomsModule } from './rooms/rooms.module';
import { SignalingModule } from './signaling/signaling.module';
import { WebhooksModule } from './webhooks/webhooks.module';

@Module({})
export class AppModule {
  static register(config: AppConfig, redisUrl: string, embedded: EmbeddedRedis | null = null): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        RedisModule.forRoot(redisUrl, embedded),
        NodeStateModule,
        AuthModule,
        MediaModule,
        ClusterModule,
        WebhooksModule,
        RoomsModule,
        RecordingsModule,
        EgressModule,
        IngressModule,
        SignalingModule,
        HealthModule,
        MetricsModule,
        DrainModule,
      ],
    };
  }
}
