import { Module } from '@nestjs/common';
import { MediaModule } from '../media/media.module';
import { RoomsModule } from '../rooms/rooms.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { EgressController } from './egress.controller';
import { EgressService } from './egress.service';
import { HlsController } from './hls.controller';

@Module({
  imports: [MediaModule, RoomsModule, WebhooksModule],
  controllers: [EgressController, HlsController],
  providers: [EgressService],
  exports: [EgressService],
})
export class EgressModule {}
