import { Module } from '@nestjs/common';
import { MediaModule } from '../media/media.module';
import { SessionsService } from './sessions.service';

@Module({ imports: [MediaModule], providers: [SessionsService], exports: [SessionsService] })
export class RoomsModule {}
