import { Body, Controller, Delete, Get, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { openApiSchema, ZodValidationPipe } from '../common/zod-validation.pipe';
import { errorSchema } from '../rooms/rooms.schemas';
import {
  ingressIdSchema,
  ingressSchema,
  listIngressSchema,
  startIngressSchema,
  type IngressView,
  type ListIngressQuery,
  type StartIngressBody,
} from './ingress.schemas';
import { IngressService } from './ingress.service';

const error = { schema: openApiSchema(errorSchema) };
const idPipe = new ZodValidationPipe(ingressIdSchema);

@ApiTags('ingress')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing or wrong admin API key', ...error })
@UseGuards(ApiKeyGuard)
@Controller('api')
export class IngressController {
  constructor(private readonly ingress: IngressService) {}

  @Post('rooms/:roomId/ingress')
  @ApiOperation({
    summary:
      'Create an RTMP ingest: a participant of the room (role ingress) shown and heard from what is pushed to the returned URL',
  })
  @ApiBody({ schema: openApiSchema(startIngressSchema) })
  @ApiResponse({ status: 201, schema: openApiSchema(ingressSchema) })
  @ApiResponse({ status: 404, description: 'unknown room', ...error })
  @ApiResponse({ status: 409, description: 'MAX_INGRESS_PER_ROOM reached, or the room is full', ...error })
  @ApiResponse({ status: 503, description: 'RTMP ingest is off (RTMP_PORT=0)', ...error })
  start(
    @Param('roomId') roomId: string,
    @Body(new ZodValidationPipe(startIngressSchema)) body: StartIngressBody,
  ): Promise<IngressView> {
    return this.ingress.start(roomId, body);
  }

  @Get('ingress')
  @ApiOperation({ summary: 'List ingresses, newest first' })
  @ApiResponse({ status: 200, schema: openApiSchema(z.object({ items: z.array(ingressSchema) })) })
  async list(
    @Query(new ZodValidationPipe(listIngressSchema)) q: ListIngressQuery,
  ): Promise<{ items: IngressView[] }> {
    return { items: await this.ingress.list(q.roomId) };
  }

  @Get('ingress/:id')
  @ApiOperation({ summary: 'Get an ingress (waiting, publishing or ended)' })
  @ApiResponse({ status: 200, schema: openApiSchema(ingressSchema) })
  @ApiResponse({ status: 404, ...error })
  get(@Param('id', idPipe) id: string): Promise<IngressView> {
    return this.ingress.find(id);
  }

  @Delete('ingress/:id')
  @ApiOperation({ summary: 'End an ingress: its publisher is disconnected and its participant leaves' })
  @ApiResponse({ status: 200, schema: openApiSchema(ingressSchema) })
  @ApiResponse({ status: 409, description: 'already ended', ...error })
  remove(@Param('id', idPipe) id: string): Promise<IngressView> {
    return this.ingress.remove(id);
  }
}
