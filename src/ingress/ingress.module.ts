import { Module } from '@nestjs/common';
import { MediaModule } from '../media/media.module';
import { RoomsModule } from '../rooms/rooms.module';
import { IngressController } from './ingress.controller';
import { IngressService } from './ingress.service';

@Module({
  imports: [MediaModule, RoomsModule],
  controllers: [IngressController],
  providers: [IngressService],
})
export class IngressModule {}
