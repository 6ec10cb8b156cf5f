import { Controller, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { BadRequestError } from '../common/errors';
import { openApiSchema } from '../common/zod-validation.pipe';
import { errorSchema } from '../rooms/rooms.schemas';
import { DrainService } from './drain.service';

const error = { schema: openApiSchema(errorSchema) };
/** The same characters as NODE_ID (src/config/config.ts). */
const NODE_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,100}$/;
const drainResponse = z.object({
  nodeId: z.string(),
  state: z.enum(['draining', 'drain-requested']),
});

/** Served on every node, whatever its roles: the preStop hook of a media node calls it. */
@ApiTags('nodes')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing or wrong admin API key', ...error })
@UseGuards(ApiKeyGuard)
@Controller('api/nodes')
export class DrainController {
  constructor(private readonly drain: DrainService) {}

  @Post(':id/drain')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Drain a node: no new rooms start on it, live rooms go on until empty or DRAIN_TIMEOUT_S, then it exits 0',
  })
  @ApiResponse({ status: 202, schema: openApiSchema(drainResponse) })
  @ApiResponse({ status: 404, description: 'no running node has this id', ...error })
  async start(@Param('id') id: string): Promise<z.infer<typeof drainResponse>> {
    if (!NODE_ID_PATTERN.test(id))
      throw new BadRequestError('id: must be 1-100 characters of A-Z a-z 0-9 _ . : -');
    const where = await this.drain.requestDrain(id, 'POST /api/nodes/:id/drain');
    return { nodeId: id, state: where === 'local' ? 'draining' : 'drain-requested' };
  }
}
