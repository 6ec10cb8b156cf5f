import { Module } from '@nestjs/common';
import { LoadModule } from '../load/load.module';
import { MediaModule } from '../media/media.module';
import { RecordingsModule } from '../recordings/recordings.module';
import { RoomsModule } from '../rooms/rooms.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

@Module({
  imports: [MediaModule, RoomsModule, WebhooksModule, RecordingsModule, LoadModule],
  controllers: [MetricsController],
  providers: [MetricsService],
})
export class MetricsModule {}
