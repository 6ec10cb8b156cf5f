import { Module } from '@nestjs/common';
import { MediaModule } from '../media/media.module';
import { RoomsModule } from '../rooms/rooms.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

@Module({
  imports: [MediaModule, RoomsModule, WebhooksModule],
  controllers: [MetricsController],
  providers: [MetricsService],
})
export class MetricsModule {}
