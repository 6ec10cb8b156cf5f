import { Module } from '@nestjs/common';
import { MediaSupervisor } from './media-supervisor.service';

@Module({ providers: [MediaSupervisor], exports: [MediaSupervisor] })
export class MediaModule {}
