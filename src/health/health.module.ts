import { Module } from '@nestjs/common';
import { LoadModule } from '../load/load.module';
import { MediaModule } from '../media/media.module';
import { RecordingsModule } from '../recordings/recordings.module';
import { HealthController } from './health.controller';

@Module({ imports: [MediaModule, RecordingsModule, LoadModule], controllers: [HealthController] })
export class HealthModule {}
