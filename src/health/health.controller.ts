import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { LoadService } from '../load/load.service';
import { NodeStateService } from '../cluster/node-state';
import { MediaSupervisor } from '../media/media-supervisor.service';
import { RecordingsService } from '../recordings/recordings.service';
import { RedisService } from '../redis/redis.module';

/**
 * Liveness says the process answers; readiness says it can take new work: a draining node is
 * live (its calls go on) but not ready (Kubernetes and load balancers stop sending it more).
 */
@Controller()
export class HealthController {
  private lastProbe: { at: number; ok: boolean; error?: string } | null = null;

  constructor(
    private readonly redis: RedisService,
    private readonly supervisor: MediaSupervisor,
    private readonly recordings: RecordingsService,
    private readonly load: LoadService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly nodeState: NodeStateService,
  ) {}

  @Get('healthz')
  @HttpCode(200)
  healthz(): { status: 'ok'; uptimeSeconds: number } {
    return { status: 'ok', uptimeSeconds: Math.round(process.uptime()) };
  }

  @Get('readyz')
  async readyz(@Res({ passthrough: true }) res: Response): Promise<object> {
    const redisOk = await this.redis.ping();
    // A node without the media role never starts a worker, not even to probe; a draining node
    // is not ready whatever a probe would say, and starts nothing new.
    const draining = this.nodeState.state === 'draining';
    const worker = this.supervisor.hostsRooms && !draining ? await this.probeWorker() : null;
    const ready = redisOk && (worker?.ok ?? true) && !draining;
    res.status(ready ? 200 : 503);
    // A nearly full recordings disk does not make the node unready (calls still work), but it
    // is shown: new recordings are refused with 507 below the minimum.
    const free = await this.recordings.freeBytes().catch(() => null);
    const minFree = this.config.recording.minFreeBytes;
    // A full node stays ready (its rooms go on, sockets may reach them) but says so: new
    // joins are refused with server_busy until load goes down.
    const load = this.load.snapshot();
    return {
      status: !ready ? 'not-ready' : load.full ? 'full' : 'ready',
      load,
      checks: {
        redis: redisOk ? 'ok' : 'unreachable',
        node: this.nodeState.state,
        mediaWorker:
          worker === null
            ? draining
              ? 'not-probed'
              : 'not-applicable'
            : worker.ok
              ? 'ok'
              : `failed: ${worker.error}`,
        recordingsDisk: free === null ? 'unknown' : free < minFree ? 'low' : 'ok',
      },
      recordingsDisk: {
        freeMb: free === null ? null : Math.floor(free / 1048576),
        minFreeMb: Math.floor(minFree / 1048576),
      },
      rooms: this.supervisor.roomIds().length,
      node: { id: this.config.node.id, roles: [...this.config.node.roles], state: this.nodeState.state },
    };
  }

  /** Starting a worker costs ~0.3 s: a successful probe is reused for 30 s. */
  private async probeWorker(): Promise<{ ok: boolean; error?: string }> {
    if (this.lastProbe?.ok && Date.now() - this.lastProbe.at < 30000) return this.lastProbe;
    try {
      await this.supervisor.probe();
      this.lastProbe = { at: Date.now(), ok: true };
    } catch (err) {
      this.lastProbe = { at: Date.now(), ok: false, error: (err as Error).message };
    }
    return this.lastProbe;
  }
}
