import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import type { Response } from 'express';
import { MediaSupervisor } from '../media/media-supervisor.service';
import { RedisService } from '../redis/redis.module';

/** Liveness says the process answers; readiness says it can actually host a room. */
@Controller()
export class HealthController {
  private lastProbe: { at: number; ok: boolean; error?: string } | null = null;

  constructor(
    private readonly redis: RedisService,
    private readonly supervisor: MediaSupervisor,
  ) {}

  @Get('healthz')
  @HttpCode(200)
  healthz(): { status: 'ok'; uptimeSeconds: number } {
    return { status: 'ok', uptimeSeconds: Math.round(process.uptime()) };
  }

  @Get('readyz')
  async readyz(@Res({ passthrough: true }) res: Response): Promise<object> {
    const redisOk = await this.redis.ping();
    const worker = await this.probeWorker();
    const ready = redisOk && worker.ok;
    res.status(ready ? 200 : 503);
    return {
      status: ready ? 'ready' : 'not-ready',
      checks: {
        redis: redisOk ? 'ok' : 'unreachable',
        mediaWorker: worker.ok ? 'ok' : `failed: ${worker.error}`,
      },
      rooms: this.supervisor.roomIds().length,
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
