import { Global, Inject, Injectable, Module } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { Logger } from '../common/logger';

export const NODE_STATES = ['active', 'draining'] as const;
export type NodeState = (typeof NODE_STATES)[number];

interface NodeStateEvents {
  change: [state: NodeState, reason: string];
}

/**
 * This node's state in the cluster: `active`, or `draining` (no new rooms start here; live rooms
 * go on until they are empty or DRAIN_TIMEOUT_S passes, then the process exits). One way only:
 * a draining node is never made active again, it is replaced by a fresh process. The registry
 * publishes the state, readiness and placement read it, DrainService acts on the change.
 */
@Injectable()
export class NodeStateService extends EventEmitter<NodeStateEvents> {
  private current: NodeState = 'active';
  private readonly log = new Logger('node');

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    super();
  }

  get state(): NodeState {
    return this.current;
  }

  get nodeId(): string {
    return this.config.node.id;
  }

  /** Returns false when the node was already draining (a second request changes nothing). */
  startDraining(reason: string): boolean {
    if (this.current === 'draining') return false;
    this.current = 'draining';
    this.log.info('node draining', { nodeId: this.config.node.id, reason });
    this.emit('change', this.current, reason);
    return true;
  }
}

/** Global: the media supervisor, health and the registry read the state without wiring. */
@Global()
@Module({ providers: [NodeStateService], exports: [NodeStateService] })
export class NodeStateModule {}
