import { Module } from '@nestjs/common';
import { MediaModule } from '../media/media.module';
import { RoomsModule } from '../rooms/rooms.module';
import { SessionRouter } from './session-router';
import { SignalingRelay } from './signaling-relay';
import { SignalingGateway } from './signaling.gateway';
import { WhipController } from './whip.controller';
import { WhipService } from './whip.service';

@Module({
  imports: [MediaModule, RoomsModule],
  controllers: [WhipController],
  providers: [SignalingGateway, SignalingRelay, SessionRouter, WhipService],
})
export class SignalingModule {}
