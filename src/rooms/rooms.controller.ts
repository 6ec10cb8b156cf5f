import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Patch,
  Post,
  Req,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { z } from 'zod';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { TOKEN_RATE_LIMITER } from '../auth/auth.module';
import type { RateLimiter } from '../auth/rate-limiter';
import type { IssuedToken } from '../auth/token.service';
import { openApiSchema, ZodValidationPipe } from '../common/zod-validation.pipe';
import {
  createRoomSchema,
  createTokenSchema,
  errorSchema,
  roomDetailSchema,
  roomSchema,
  roomSummarySchema,
  tokenSchema,
  updateRoomSchema,
  type CreateRoomBody,
  type CreateTokenBody,
  type Room,
  type RoomDetail,
  type RoomSummary,
  type UpdateRoomBody,
} from './rooms.schemas';
import { RoomsService } from './rooms.service';

const error = { schema: openApiSchema(errorSchema) };

@ApiTags('rooms')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing or wrong admin API key', ...error })
@UseGuards(ApiKeyGuard)
@Controller('api/rooms')
export class RoomsController {
  constructor(
    private readonly rooms: RoomsService,
    @Inject(TOKEN_RATE_LIMITER) private readonly tokenLimiter: RateLimiter,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a room' })
  @ApiBody({ schema: openApiSchema(createRoomSchema) })
  @ApiResponse({ status: 201, schema: openApiSchema(roomSchema) })
  @ApiResponse({ status: 409, description: 'id taken, or MAX_ROOMS reached', ...error })
  create(@Body(new ZodValidationPipe(createRoomSchema)) body: CreateRoomBody): Promise<Room> {
    return this.rooms.create(body);
  }

  @Get()
  @ApiOperation({ summary: 'List rooms with their live participant counts' })
  @ApiResponse({ status: 200, schema: openApiSchema(z.object({ rooms: z.array(roomSummarySchema) })) })
  async list(): Promise<{ rooms: RoomSummary[] }> {
    return { rooms: await this.rooms.list() };
  }

  @Get(':roomId')
  @ApiOperation({ summary: 'Get a room with its live participants' })
  @ApiResponse({ status: 200, schema: openApiSchema(roomDetailSchema) })
  @ApiResponse({ status: 404, ...error })
  get(@Param('roomId') roomId: string): Promise<RoomDetail> {
    return this.rooms.get(roomId);
  }

  @Patch(':roomId')
  @ApiOperation({ summary: 'Update a room (layout, fit, pinned participant, name, metadata, autoRecord)' })
  @ApiBody({ schema: openApiSchema(updateRoomSchema) })
  @ApiResponse({ status: 200, schema: openApiSchema(roomSchema) })
  @ApiResponse({ status: 422, description: 'pinned participant is not in the room', ...error })
  update(
    @Param('roomId') roomId: string,
    @Body(new ZodValidationPipe(updateRoomSchema)) body: UpdateRoomBody,
  ): Promise<Room> {
    return this.rooms.update(roomId, body);
  }

  @Delete(':roomId')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete a room: ends the session for everyone, stops its recording, frees its worker',
  })
  @ApiResponse({ status: 204 })
  @ApiResponse({ status: 404, ...error })
  async delete(@Param('roomId') roomId: string): Promise<void> {
    await this.rooms.delete(roomId);
  }

  @Post(':roomId/tokens')
  @ApiOperation({ summary: 'Issue a short-lived join token for the signaling `join` event' })
  @ApiBody({ schema: openApiSchema(createTokenSchema) })
  @ApiResponse({ status: 201, schema: openApiSchema(tokenSchema) })
  @ApiResponse({ status: 409, description: 'the room is full of publishers', ...error })
  @ApiResponse({ status: 429, description: 'too many token requests from this client', ...error })
  async issueToken(
    @Req() req: Request,
    @Param('roomId') roomId: string,
    @Body(new ZodValidationPipe(createTokenSchema)) body: CreateTokenBody,
  ): Promise<IssuedToken> {
    await this.tokenLimiter.consume(req.ip ?? 'unknown');
    return this.rooms.issueToken(roomId, body);
  }
}
