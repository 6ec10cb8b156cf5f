import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { NODE_ROLES } from '../config/config';
import { openApiSchema } from '../common/zod-validation.pipe';
import { NodeRegistry, type NodeRecord } from './node-registry.service';

const nodeSchema = z.object({
  id: z.string(),
  roles: z.array(z.enum(NODE_ROLES)),
  state: z.enum(['active', 'draining']),
  bootId: z.string(),
  cpuLoad: z.number(),
  loopDelayMs: z.number(),
  rooms: z.number().int(),
  participants: z.number().int(),
  capacity: z.number(),
  committed: z.number(),
  url: z.string(),
  updatedAt: z.string(),
});

@ApiTags('cluster')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('api/nodes')
export class NodesController {
  constructor(private readonly registry: NodeRegistry) {}

  @Get()
  @ApiOperation({ summary: 'The live nodes of the cluster (registry entries refreshed every 2 s)' })
  @ApiResponse({ status: 200, schema: openApiSchema(z.object({ nodes: z.array(nodeSchema) })) })
  async list(): Promise<{ nodes: NodeRecord[] }> {
    const nodes = await this.registry.list();
    // A node that has not written its first entry yet still shows itself.
    if (!nodes.some((n) => n.id === this.registry.nodeId)) nodes.push(this.registry.record());
    return { nodes };
  }
}
