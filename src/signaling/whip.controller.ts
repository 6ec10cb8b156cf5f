import { Body, Controller, Delete, Headers, HttpCode, Ip, Param, Patch, Post, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { WhipService, type HttpSessionKind } from './whip.service';

type Auth = string | undefined;

/**
 * WHIP (publish, RFC 9725) and WHEP (play) for a room, authorised by a join token in
 * `Authorization: Bearer`. The endpoints are `POST /whip/:roomId` and `POST /whep/:roomId` (the
 * form WHIP/WHEP clients are configured with); `/api/rooms/:roomId/whip|whep` are aliases of the
 * same handlers, kept for clients written against them. Either way the session resource (the
 * `Location`, for PATCH and DELETE) is `/<kind>/:roomId/:participantId`, and the alias form of
 * that path is accepted too. Thin: the rules are WhipService's. (Express 5 routes take no
 * regular expressions, hence one handler per kind.)
 */
@ApiTags('whip-whep')
@ApiResponse({ status: 401, description: 'missing or invalid join token' })
@ApiResponse({
  status: 403,
  description: 'token for another room or identity, or not a publisher token (WHIP)',
})
@Controller()
export class WhipController {
  constructor(private readonly whip: WhipService) {}

  @Post(['whip/:roomId', 'api/rooms/:roomId/whip'])
  @HttpCode(201)
  @ApiOperation({ summary: 'WHIP: POST an SDP offer (application/sdp); 201 with the answer and a Location' })
  @ApiResponse({ status: 400, description: 'not an SDP offer, or no codec the server handles' })
  @ApiResponse({ status: 415, description: 'body not application/sdp' })
  publish(
    @Param('roomId') roomId: string,
    @Ip() ip: string,
    @Headers('authorization') auth: Auth,
    @Headers('content-type') type: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) res: Response,
  ): Promise<string> {
    return this.open('whip', roomId, ip, auth, type, body, res);
  }

  @Post(['whep/:roomId', 'api/rooms/:roomId/whep'])
  @HttpCode(201)
  @ApiOperation({ summary: 'WHEP: POST a receive-only SDP offer; 201 with the answer and a Location' })
  @ApiResponse({ status: 400, description: 'not an SDP offer, or no codec the server handles' })
  @ApiResponse({ status: 415, description: 'body not application/sdp' })
  play(
    @Param('roomId') roomId: string,
    @Ip() ip: string,
    @Headers('authorization') auth: Auth,
    @Headers('content-type') type: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) res: Response,
  ): Promise<string> {
    return this.open('whep', roomId, ip, auth, type, body, res);
  }

  @Patch(['whip/:roomId/:participantId', 'api/rooms/:roomId/whip/:participantId'])
  @HttpCode(204)
  @ApiOperation({ summary: 'WHIP trickle ICE: application/trickle-ice-sdpfrag with a=candidate lines' })
  patchWhip(
    @Param('roomId') roomId: string,
    @Param('participantId') participantId: string,
    @Headers('authorization') auth: Auth,
    @Headers('content-type') type: string | undefined,
    @Body() body: unknown,
  ): Promise<void> {
    return this.whip.patch('whip', roomId, participantId, auth, type, body);
  }

  @Patch(['whep/:roomId/:participantId', 'api/rooms/:roomId/whep/:participantId'])
  @HttpCode(204)
  @ApiOperation({ summary: 'WHEP trickle ICE: application/trickle-ice-sdpfrag with a=candidate lines' })
  patchWhep(
    @Param('roomId') roomId: string,
    @Param('participantId') participantId: string,
    @Headers('authorization') auth: Auth,
    @Headers('content-type') type: string | undefined,
    @Body() body: unknown,
  ): Promise<void> {
    return this.whip.patch('whep', roomId, participantId, auth, type, body);
  }

  @Delete(['whip/:roomId/:participantId', 'api/rooms/:roomId/whip/:participantId'])
  @HttpCode(200)
  @ApiOperation({ summary: 'WHIP: end the session (the publisher leaves the room)' })
  closeWhip(
    @Param('roomId') roomId: string,
    @Param('participantId') participantId: string,
    @Headers('authorization') auth: Auth,
  ): Promise<void> {
    return this.whip.close('whip', roomId, participantId, auth);
  }

  @Delete(['whep/:roomId/:participantId', 'api/rooms/:roomId/whep/:participantId'])
  @HttpCode(200)
  @ApiOperation({ summary: 'WHEP: end the session (the viewer leaves the room)' })
  closeWhep(
    @Param('roomId') roomId: string,
    @Param('participantId') participantId: string,
    @Headers('authorization') auth: Auth,
  ): Promise<void> {
    return this.whip.close('whep', roomId, participantId, auth);
  }

  private async open(
    kind: HttpSessionKind,
    roomId: string,
    ip: string,
    auth: Auth,
    type: string | undefined,
    body: unknown,
    res: Response,
  ): Promise<string> {
    const { participantId, answer } = await this.whip.open(kind, ip, roomId, auth, type, body);
    res.setHeader('Location', `/${kind}/${encodeURIComponent(roomId)}/${participantId}`);
    // Trickle ICE is accepted on the resource (RFC 9725 §4.3.1); ICE restarts are not.
    res.setHeader('Accept-Patch', 'application/trickle-ice-sdpfrag');
    res.type('application/sdp');
    return answer;
  }
}
