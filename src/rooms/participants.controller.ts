import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { openApiSchema, ZodValidationPipe } from '../common/zod-validation.pipe';
import {
  errorSchema,
  muteSchema,
  participantSchema,
  type MuteBody,
  type ParticipantInfo,
} from './rooms.schemas';
import { RoomsService } from './rooms.service';

const error = { schema: openApiSchema(errorSchema) };

@ApiTags('participants')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing or wrong admin API key', ...error })
@ApiResponse({ status: 404, description: 'unknown room or participant', ...error })
@UseGuards(ApiKeyGuard)
@Controller('api/rooms/:roomId/participants')
export class ParticipantsController {
  constructor(private readonly rooms: RoomsService) {}

  @Get()
  @ApiOperation({ summary: 'List the live participants of a room' })
  @ApiResponse({ status: 200, schema: openApiSchema(z.object({ participants: z.array(participantSchema) })) })
  async list(@Param('roomId') roomId: string): Promise<{ participants: ParticipantInfo[] }> {
    return { participants: await this.rooms.participants(roomId) };
  }

  @Delete(':participantId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Kick a participant: it gets `kicked` and is disconnected' })
  @ApiResponse({ status: 204 })
  async kick(@Param('roomId') roomId: string, @Param('participantId') participantId: string): Promise<void> {
    await this.rooms.kick(roomId, participantId);
  }

  @Post(':participantId/mute')
  @HttpCode(200)
  @ApiOperation({ summary: "Mute a participant's audio or video server-side (it leaves the mix at once)" })
  @ApiBody({ schema: openApiSchema(muteSchema) })
  @ApiResponse({ status: 200, schema: openApiSchema(participantSchema) })
  mute(
    @Param('roomId') roomId: string,
    @Param('participantId') participantId: string,
    @Body(new ZodValidationPipe(muteSchema)) body: MuteBody,
  ): Promise<ParticipantInfo> {
    return this.rooms.setMuted(roomId, participantId, body.kind, true);
  }

  @Post(':participantId/unmute')
  @HttpCode(200)
  @ApiOperation({ summary: 'Undo a server-side mute' })
  @ApiBody({ schema: openApiSchema(muteSchema) })
  @ApiResponse({ status: 200, schema: openApiSchema(participantSchema) })
  unmute(
    @Param('roomId') roomId: string,
    @Param('participantId') participantId: string,
    @Body(new ZodValidationPipe(muteSchema)) body: MuteBody,
  ): Promise<ParticipantInfo> {
    return this.rooms.setMuted(roomId, participantId, body.kind, false);
  }
}
