import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import Redis from 'ioredis';

/** The socket.io that Nest's adapter bundles (it may be another copy than the project's). */
type IoServer = Parameters<IoAdapter['close']>[0];
type IoOptions = Parameters<IoAdapter['createIOServer']>[1];

/**
 * socket.io between the nodes of a cluster: the Redis Streams adapter carries what one node
 * emits to a socket another node holds (a hosting node's ICE candidates and renegotiation
 * offers to a relayed participant, REST kicks, mutes, layout changes, room ends). Streams, not
 * pub/sub: a node that loses Redis for a moment reads on from its last stream offset, so a blip
 * loses no packets. WebSocket only: a connection never spans two HTTP requests, so no sticky
 * sessions are needed behind a load balancer.
 */
export class ClusterIoAdapter extends IoAdapter {
  private readonly client: Redis;

  constructor(
    app: INestApplicationContext,
    redisUrl: string,
    private readonly streamName: string,
  ) {
    super(app);
    // Its own connection: the adapter blocks on XREAD, which the shared client's command
    // timeout would cut.
    this.client = new Redis(redisUrl, { retryStrategy: (times) => Math.min(times * 100, 1000) });
    this.client.on('error', () => undefined);
  }

  override createIOServer(port: number, options?: IoOptions): IoServer {
    const server: IoServer = super.createIOServer(port, { ...options, transports: ['websocket'] });
    server.adapter(createAdapter(this.client, { streamName: this.streamName, blockTimeInMs: 1000 }));
    return server;
  }

  /**
   * After the whole application has closed (server.ts), not in close(): Nest closes socket.io
   * before the shutdown hooks run, and those still tell remote sockets that their rooms ended
   * (published through this client; the adapter does not catch a failed publish).
   */
  async disconnect(): Promise<void> {
    // quit, bounded: what was sent last is answered first instead of rejected.
    await Promise.race([
      this.client.quit().catch(() => undefined),
      new Promise((r) => setTimeout(r, 1000).unref()),
    ]);
    this.client.disconnect();
  }
}
