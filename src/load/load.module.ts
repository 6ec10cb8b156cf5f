import { Module } from '@nestjs/common';
import { MediaModule } from '../media/media.module';
import { LoadService } from './load.service';

/** Capacity model, measured load and admission control of this node (docs/overload.md). */
@Module({ imports: [MediaModule], providers: [LoadService], exports: [LoadService] })
export class LoadModule {}
