import { Module } from '@nestjs/common';
import { MediaModule } from '../media/media.module';
import { DrainController } from './drain.controller';
import { DrainService } from './drain.service';

@Module({
  imports: [MediaModule],
  controllers: [DrainController],
  providers: [DrainService],
  exports: [DrainService],
})
export class DrainModule {}
