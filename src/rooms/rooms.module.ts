import { Module } from '@nestjs/common';
import { LoadModule } from '../load/load.module';
import { MediaModule } from '../media/media.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { ParticipantsController } from './participants.controller';
import { RoomsController } from './rooms.controller';
import { RoomsRepository } from './rooms.repository';
import { RoomsService } from './rooms.service';
import { SessionsService } from './sessions.service';

@Module({
  imports: [MediaModule, WebhooksModule, LoadModule],
  controllers: [RoomsController, ParticipantsController],
  providers: [RoomsRepository, RoomsService, SessionsService],
  exports: [RoomsService, SessionsService, RoomsRepository],
})
export class RoomsModule {}
