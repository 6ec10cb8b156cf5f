import { Module } from '@nestjs/common';
import { MediaSupervisor } from './media-supervisor.service';
import { WorkerDeaths } from './worker-deaths';

@Module({ providers: [MediaSupervisor, WorkerDeaths], exports: [MediaSupervisor, WorkerDeaths] })
export class MediaModule {}
