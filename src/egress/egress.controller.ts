import { Body, Controller, Delete, Get, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { openApiSchema, ZodValidationPipe } from '../common/zod-validation.pipe';
import { errorSchema } from '../rooms/rooms.schemas';
import {
  egressIdSchema,
  egressSchema,
  listEgressSchema,
  startEgressSchema,
  type EgressView,
  type ListEgressQuery,
  type StartEgressBody,
} from './egress.schemas';
import { EgressService } from './egress.service';

const error = { schema: openApiSchema(errorSchema) };
const idPipe = new ZodValidationPipe(egressIdSchema);

@ApiTags('egress')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing or wrong admin API key', ...error })
@UseGuards(ApiKeyGuard)
@Controller('api')
export class EgressController {
  constructor(private readonly egress: EgressService) {}

  @Post('rooms/:roomId/egress')
  @ApiOperation({
    summary:
      "Stream a live room out: its composite and everyone's audio as H.264/AAC to an RTMP(S) URL, or as HLS served by this server",
  })
  @ApiBody({ schema: openApiSchema(startEgressSchema) })
  @ApiResponse({ status: 201, schema: openApiSchema(egressSchema) })
  @ApiResponse({ status: 400, description: 'unknown type or field', ...error })
  @ApiResponse({
    status: 422,
    description: 'not an rtmp:// or rtmps:// URL, unknown profile or layout',
    ...error,
  })
  @ApiResponse({ status: 404, description: 'unknown room', ...error })
  @ApiResponse({ status: 409, description: 'nobody in the room, or MAX_EGRESS_PER_ROOM reached', ...error })
  start(
    @Param('roomId') roomId: string,
    @Body(new ZodValidationPipe(startEgressSchema)) body: StartEgressBody,
  ): Promise<EgressView> {
    return this.egress.start(roomId, body);
  }

  @Get('egress')
  @ApiOperation({ summary: 'List egresses (live and recently ended), newest first' })
  @ApiResponse({ status: 200, schema: openApiSchema(z.object({ items: z.array(egressSchema) })) })
  async list(
    @Query(new ZodValidationPipe(listEgressSchema)) q: ListEgressQuery,
  ): Promise<{ items: EgressView[] }> {
    return { items: await this.egress.list(q.roomId) };
  }

  @Get('egress/:id')
  @ApiOperation({ summary: 'Get an egress: its state and, when it failed or is reconnecting, why' })
  @ApiResponse({ status: 200, schema: openApiSchema(egressSchema) })
  @ApiResponse({ status: 404, ...error })
  get(@Param('id', idPipe) id: string): Promise<EgressView> {
    return this.egress.get(id);
  }

  @Delete('egress/:id')
  @ApiOperation({ summary: 'Stop an egress (an HLS playlist stays served for EGRESS_HLS_RETENTION_S)' })
  @ApiResponse({ status: 200, schema: openApiSchema(egressSchema) })
  @ApiResponse({ status: 409, description: 'already stopped or failed', ...error })
  stop(@Param('id', idPipe) id: string): Promise<EgressView> {
    return this.egress.stop(id);
  }
}
