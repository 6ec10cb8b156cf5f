import { Global, Module } from '@nestjs/common';
import { LoadModule } from '../load/load.module';
import { MediaModule } from '../media/media.module';
import { ClusterBus } from './cluster-bus';
import { Janitor } from './janitor.service';
import { NODE_ACCEPTANCE, NodeRegistry, type NodeAcceptance } from './node-registry.service';
import { NodeStateService } from './node-state';
import { NodesController } from './nodes.controller';
import { RoomDirectory } from './room-directory.service';

/**
 * Scale-out (docs/scale-out.md): the node registry, room placement and claims, the node-to-node
 * request bus and the janitor. Global: rooms, signaling and recordings route through it.
 */
@Global()
@Module({
  imports: [MediaModule, LoadModule],
  controllers: [NodesController],
  providers: [
    {
      // A draining node takes no new rooms (NodeStateService is global).
      provide: NODE_ACCEPTANCE,
      inject: [NodeStateService],
      useFactory: (state: NodeStateService): NodeAcceptance => ({
        get accepting() {
          return state.state === 'active';
        },
      }),
    },
    NodeRegistry,
    RoomDirectory,
    ClusterBus,
    Janitor,
  ],
  exports: [NODE_ACCEPTANCE, NodeRegistry, RoomDirectory, ClusterBus, Janitor],
})
export class ClusterModule {}
