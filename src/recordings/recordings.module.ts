import { Module } from '@nestjs/common';
import { MediaModule } from '../media/media.module';
import { RoomsModule } from '../rooms/rooms.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { RecordingWorkerProcess } from './recording-worker-process';
import { RecordingsController } from './recordings.controller';
import { RecordingsService } from './recordings.service';

@Module({
  imports: [MediaModule, RoomsModule, WebhooksModule],
  controllers: [RecordingsController],
  providers: [RecordingsService, RecordingWorkerProcess],
  exports: [RecordingsService],
})
export class RecordingsModule {}
