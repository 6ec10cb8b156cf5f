import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { z } from 'zod';
import { RECORDING_FILES, type RecordingManifest } from '../../workers/protocol/recording';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { NotFoundError } from '../common/errors';
import { openApiSchema, ZodValidationPipe } from '../common/zod-validation.pipe';
import { errorSchema } from '../rooms/rooms.schemas';
import {
  downloadQuerySchema,
  listRecordingsSchema,
  recordingIdSchema,
  recordingSchema,
  startRecordingSchema,
  transcodeSchema,
  type DownloadQuery,
  type ListRecordingsQuery,
  type StartRecordingBody,
  type TranscodeBody,
} from './recordings.schemas';
import { RecordingsService, type RecordingView } from './recordings.service';
import { sendRecordingFile } from './send-recording-file';

const error = { schema: openApiSchema(errorSchema) };
const idPipe = new ZodValidationPipe(recordingIdSchema);

@ApiTags('recordings')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing or wrong admin API key', ...error })
@UseGuards(ApiKeyGuard)
@Controller('api')
export class RecordingsController {
  constructor(private readonly recordings: RecordingsService) {}

  @Post('rooms/:roomId/recordings')
  @ApiOperation({
    summary: "Start recording a live room (its composite at RECORDING_PROFILE and everyone's audio)",
  })
  @ApiBody({ schema: openApiSchema(startRecordingSchema), required: false })
  @ApiResponse({ status: 201, schema: openApiSchema(recordingSchema) })
  @ApiResponse({ status: 404, description: 'unknown room', ...error })
  @ApiResponse({ status: 409, description: 'already recording, or nobody in the room', ...error })
  @ApiResponse({
    status: 507,
    description: 'the recordings disk has less free space than RECORDING_MIN_FREE_MB',
    ...error,
  })
  start(
    @Param('roomId') roomId: string,
    @Body(new ZodValidationPipe(startRecordingSchema.optional())) body: StartRecordingBody | undefined,
  ): Promise<RecordingManifest> {
    return this.recordings.start(roomId, body ?? {});
  }

  @Post('recordings/:id/stop')
  @HttpCode(200)
  @ApiOperation({ summary: 'Stop a recording; its finalize is queued' })
  @ApiResponse({ status: 200, schema: openApiSchema(recordingSchema) })
  @ApiResponse({ status: 409, description: 'not recording', ...error })
  stop(@Param('id', idPipe) id: string): Promise<RecordingManifest> {
    return this.recordings.stop(id);
  }

  @Post('recordings/:id/finalize')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Finalize again a recording that failed because its disk was full (after space was freed): its kept segments become an interrupted, playable recording',
  })
  @ApiResponse({ status: 202, schema: openApiSchema(recordingSchema) })
  @ApiResponse({ status: 409, description: 'not a recording that failed with disk_full', ...error })
  @ApiResponse({ status: 507, description: 'still too little free space', ...error })
  retryFinalize(@Param('id', idPipe) id: string): Promise<RecordingManifest> {
    return this.recordings.retryFinalize(id);
  }

  @Post('recordings/:id/transcode')
  @HttpCode(202)
  @ApiOperation({ summary: 'Queue a WebM (VP8/Opus) copy of a finished recording' })
  @ApiBody({ schema: openApiSchema(transcodeSchema) })
  @ApiResponse({ status: 202, schema: openApiSchema(recordingSchema) })
  transcode(
    @Param('id', idPipe) id: string,
    @Body(new ZodValidationPipe(transcodeSchema)) _body: TranscodeBody,
  ): Promise<RecordingManifest> {
    return this.recordings.refinalize(id, { webm: true });
  }

  @Get('recordings')
  @ApiOperation({ summary: 'List recordings, newest first (filter by room, state, start time; paginated)' })
  @ApiResponse({
    status: 200,
    schema: openApiSchema(
      z.object({ items: z.array(recordingSchema), total: z.number(), limit: z.number(), offset: z.number() }),
    ),
  })
  list(@Query(new ZodValidationPipe(listRecordingsSchema)) q: ListRecordingsQuery) {
    return this.recordings.list(q);
  }

  @Get('recordings/:id')
  @ApiOperation({ summary: 'Get a recording (with finalize progress while finalizing)' })
  @ApiResponse({ status: 200, schema: openApiSchema(recordingSchema) })
  @ApiResponse({ status: 404, ...error })
  get(@Param('id', idPipe) id: string): Promise<RecordingView> {
    return this.recordings.get(id);
  }

  @Get('recordings/:id/download')
  @ApiOperation({
    summary:
      'Download the MP4 (or ?format=webm); supports HEAD, Range (206; 416 when unsatisfiable; a malformed Range gets the whole file) and ETag (304)',
  })
  @ApiProduces('video/mp4', 'video/webm')
  @ApiResponse({ status: 404, description: 'unknown recording or file not produced yet', ...error })
  async download(
    @Param('id', idPipe) id: string,
    @Query(new ZodValidationPipe(downloadQuerySchema)) q: DownloadQuery,
    @Res() res: Response,
  ): Promise<void> {
    const m = await this.recordings.get(id);
    const name = q.format === 'mp4' ? RECORDING_FILES.mp4 : RECORDING_FILES.webm;
    const file = m.files.find((f) => f.name === name);
    if (!file) throw new NotFoundError(`recording ${id} has no ${q.format} file (state ${m.state})`);
    await sendRecordingFile(res, {
      path: this.recordings.store.pathOf(id, file.name),
      sha256: file.sha256,
      contentType: q.format === 'mp4' ? 'video/mp4' : 'video/webm',
      downloadName: `${id}.${q.format}`,
      disposition: 'attachment',
    });
  }

  @Get('recordings/:id/thumbnail')
  @ApiOperation({ summary: 'The JPEG thumbnail of a finalized recording' })
  @ApiProduces('image/jpeg')
  async thumbnail(@Param('id', idPipe) id: string, @Res() res: Response): Promise<void> {
    const m = await this.recordings.get(id);
    const file = m.files.find((f) => f.kind === 'thumbnail');
    if (!file) throw new NotFoundError(`recording ${id} has no thumbnail (state ${m.state})`);
    await sendRecordingFile(res, {
      path: this.recordings.store.pathOf(id, file.name),
      sha256: file.sha256,
      contentType: 'image/jpeg',
      downloadName: `${id}.jpg`,
      disposition: 'inline',
    });
  }

  @Delete('recordings/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a finished recording (files and manifest)' })
  @ApiResponse({ status: 409, description: 'still recording or finalizing', ...error })
  async remove(@Param('id', idPipe) id: string): Promise<void> {
    await this.recordings.remove(id);
  }
}
