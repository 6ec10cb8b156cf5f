import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { randomUUID } from 'node:crypto';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { Logger } from '../common/logger';
import { withTimeout } from '../common/timeout';
import { AUTH_SECRETS, type AuthSecrets } from '../auth/secrets';
import { REDIS_URL, RedisService } from '../redis/redis.module';
import { signWebhookBody } from './webhook-signature';
import {
  DELIVERY_HEADER,
  EVENT_HEADER,
  SIGNATURE_HEADER,
  WEBHOOK_QUEUE,
  type WebhookEnvelope,
  type WebhookEvent,
  type WebhookEventMap,
  type WebhookJobData,
} from './webhook-events';

const ONCE_CLAIM_SECONDS = 7 * 86400;

/**
 * Publishes domain events to the configured WEBHOOK_URLS. `publish` only enqueues (one BullMQ
 * job per URL) and never waits: callers sit on the signaling and media-control paths. A worker in
 * this process delivers with a timeout and retries with exponential backoff, so a receiver that is
 * down for a while loses nothing; jobs live in Redis, so they also survive a restart.
 */
@Injectable()
export class WebhooksService implements OnModuleInit, OnApplicationShutdown {
  private queue: Queue<WebhookJobData> | null = null;
  private worker: Worker<WebhookJobData> | null = null;
  private readonly log = new Logger('webhooks');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_URL) private readonly redisUrl: string,
    @Inject(AUTH_SECRETS) private readonly secrets: AuthSecrets,
    private readonly redis: RedisService,
  ) {}

  get enabled(): boolean {
    return this.config.webhooks.urls.length > 0;
  }

  onModuleInit(): void {
    if (!this.enabled) return;
    const connection = { url: this.redisUrl };
    const prefix = `${this.config.redisKeyPrefix}bull`;
    this.queue = new Queue<WebhookJobData>(WEBHOOK_QUEUE, { connection, prefix });
    this.queue.on('error', (err) => this.log.warn('webhook queue error', { err }));
    this.worker = new Worker<WebhookJobData>(WEBHOOK_QUEUE, (job) => this.deliver(job), {
      connection: { ...connection, maxRetriesPerRequest: null },
      prefix,
      concurrency: 4,
    });
    this.worker.on('error', (err) => this.log.warn('webhook worker error', { err }));
    this.worker.on('failed', (job, err) => {
      if (!job) return;
      const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError;
      const fields = {
        event: job.data.event,
        url: job.data.url,
        deliveryId: job.data.deliveryId,
        attempt: job.attemptsMade,
        err: err.message,
      };
      if (final) this.log.error('webhook delivery failed for good', fields);
      else this.log.info('webhook delivery failed; will retry', fields);
    });
  }

  /** Fire and forget: enqueues the event for every configured URL. */
  publish<E extends WebhookEvent>(event: E, data: WebhookEventMap[E]): void {
    if (!this.queue) return;
    const envelope: WebhookEnvelope<E> = {
      id: `evt_${randomUUID()}`,
      event,
      createdAt: new Date().toISOString(),
      data,
    };
    const body = JSON.stringify(envelope);
    const jobs = this.config.webhooks.urls.map((url) => ({
      name: event,
      data: { url, event, deliveryId: envelope.id, body },
      opts: {
        attempts: this.config.webhooks.attempts,
        backoff: { type: 'exponential', delay: this.config.webhooks.backoffMs },
        removeOnComplete: 1000,
        removeOnFail: 5000,
      },
    }));
    this.queue
      .addBulk(jobs)
      .catch((err: unknown) => this.log.error('could not enqueue a webhook event', { event, err }));
  }

  /**
   * For an event every node sees (a finalize job's end reaches the QueueEvents of every node in
   * a cluster): the node that claims `onceKey` in Redis first publishes it, the others drop it,
   * so the receiver gets it once. The claim outlives any retry of the same event (7 days).
   */
  async publishOnce<E extends WebhookEvent>(
    onceKey: string,
    event: E,
    data: WebhookEventMap[E],
  ): Promise<boolean> {
    if (!this.queue) return false;
    const key = `${this.config.redisKeyPrefix}webhook-once:${event}:${onceKey}`;
    const claimed = await this.redis.client.set(key, this.config.node.id, 'EX', ONCE_CLAIM_SECONDS, 'NX');
    if (claimed !== 'OK') return false;
    this.publish(event, data);
    return true;
  }

  /** Job counts by state, for /metrics. */
  async jobCounts(): Promise<Record<string, number>> {
    if (!this.queue) return {};
    return this.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
  }

  /** Bounded: with Redis down BullMQ's close would wait for it forever. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([
      withTimeout(this.worker?.close() ?? Promise.resolve(), 2000, 'closing the webhook worker').catch(
        () => undefined,
      ),
      withTimeout(this.queue?.close() ?? Promise.resolve(), 1500, 'closing the webhook queue').catch(
        () => undefined,
      ),
    ]);
  }

  private async deliver(job: Job<WebhookJobData>): Promise<void> {
    const { url, event, deliveryId, body } = job.data;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.config.webhooks.timeoutMs),
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'mcu-media-server-webhooks',
          [SIGNATURE_HEADER]: signWebhookBody(body, this.secrets.webhookSecret),
          [EVENT_HEADER]: event,
          [DELIVERY_HEADER]: deliveryId,
        },
      });
    } catch (err) {
      throw new Error(`transport error: ${(err as Error).message}`);
    }
    await res.body?.cancel().catch(() => undefined);
    if (res.ok) return;
    // A 4xx other than timeout/too-many means the receiver rejects this event: retrying cannot help.
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      throw new UnrecoverableError(`receiver answered ${res.status}`);
    }
    throw new Error(`receiver answered ${res.status}`);
  }
}
