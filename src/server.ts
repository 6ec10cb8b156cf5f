import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import * as fs from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import * as path from 'node:path';
import { AppModule } from './app.module';
import { ClusterIoAdapter } from './cluster/cluster-io-adapter';
import { NodeRegistry } from './cluster/node-registry.service';
import { DataDirLock } from './common/data-dir-lock';
import { DomainExceptionFilter } from './common/domain-exception.filter';
import { Logger, setLogLevel } from './common/logger';
import { projectRoot } from './common/paths';
import { installProcessFaultHandlers } from './common/process-faults';
import type { AppConfig } from './config/config';
import { EmbeddedRedis } from './redis/embedded-redis';
import { RedisService } from './redis/redis.module';
import { setUpOpenApi } from './openapi';
import { DrainService, type DrainOutcome } from './cluster/drain.service';
import { NodeStateService } from './cluster/node-state';
import { refuseSignalingConnections, restrictHttpToNodeEndpoints } from './cluster/roles';
import { SignalingGateway } from './signaling/signaling.gateway';

export interface RunningServer {
  app: NestExpressApplication;
  url: string;
  redisUrl: string;
  /** The supervised embedded redis-server, null with REDIS_URL. */
  embeddedRedis: EmbeddedRedis | null;
  /** Stops everything; resolves when done (callers bound it: see main.ts). */
  close(): Promise<void>;
  /** Called when the server cannot go on (its embedded Redis is gone for good). */
  onFatal(handler: (err: Error) => void): void;
  /** Called once when a drain is over (last room ended, or DRAIN_TIMEOUT_S): time to exit 0. */
  onDrained(handler: (outcome: DrainOutcome) => void): void;
  /** Puts the node in `draining`; false when it already was. */
  startDraining(reason: string): boolean;
}

const log = new Logger('server');
const PUBLIC_DIR = path.join(projectRoot(), 'public');
/** The HLS player of the admin page, from its npm package: served by us, no CDN. */
const HLS_JS_DIR = path.join(projectRoot(), 'node_modules', 'hls.js', 'dist');

/**
 * Boots the control plane: takes the data folder (one server per DATA_DIR), embedded Redis when
 * no REDIS_URL, then Nest, then listen.
 */
export async function startServer(config: AppConfig): Promise<RunningServer> {
  setLogLevel(config.logLevel);
  installProcessFaultHandlers();
  // First, before anything in the folder is touched: a second server must change nothing.
  const lock = await DataDirLock.acquire(config.dataDir);
  let embedded: EmbeddedRedis | null = null;
  let redisUrl = config.redisUrl;
  const fatalHandlers: ((err: Error) => void)[] = [];
  try {
    fs.mkdirSync(config.recordingsDir, { recursive: true });
    if (!redisUrl) {
      embedded = new EmbeddedRedis(config.dataDir);
      embedded.on('fatal', (err) => fatalHandlers.forEach((h) => h(err)));
      redisUrl = await embedded.start();
    }
  } catch (err) {
    lock.release();
    throw err;
  }
  try {
    const app = await NestFactory.create<NestExpressApplication>(
      AppModule.register(config, redisUrl, embedded),
      {
        logger: ['error', 'warn'],
        bodyParser: true,
      },
    );
    app.useBodyParser('json', { limit: '256kb' });
    // WHIP/WHEP bodies (SDP offers, trickle-ICE fragments) arrive as text.
    app.useBodyParser('text', {
      type: ['application/sdp', 'application/trickle-ice-sdpfrag'],
      limit: '128kb',
    });
    app.useGlobalFilters(new DomainExceptionFilter());
    const ioAdapter = config.node.clustered
      ? new ClusterIoAdapter(app, redisUrl, `${config.redisKeyPrefix}socket.io`)
      : null;
    if (ioAdapter) app.useWebSocketAdapter(ioAdapter);
    // Ahead of every route and of the static pages (a node without the control role).
    restrictHttpToNodeEndpoints(app, config);
    setUpOpenApi(app);
    // The browser client and admin page (public/, bundled into public/dist by the build).
    app.useStaticAssets(PUBLIC_DIR, { index: 'index.html', fallthrough: true });
    if (!fs.existsSync(HLS_JS_DIR))
      log.warn('hls.js is not installed: the admin page cannot play HLS egress', { path: HLS_JS_DIR });
    app.useStaticAssets(HLS_JS_DIR, { prefix: '/vendor/hls.js/', index: false, fallthrough: true });
    await app.init();
    refuseSignalingConnections(app.get(SignalingGateway).server, config);
    await app.listen(config.port, config.host);
    // Longer than the usual 60 s idle timeout of load balancers and than any client keep-alive,
    // so that the server is never the side that closes an idle connection a client is reusing
    // (the request would fail with ECONNRESET).
    const http = app.getHttpServer() as HttpServer;
    http.keepAliveTimeout = 65_000;
    http.headersTimeout = 66_000;
    const addr = app.getHttpServer().address() as { port: number };
    const url = `http://${config.host}:${addr.port}`;
    lock.setListening(addr.port, url);
    app.get(NodeRegistry).setUrl(url);
    if (!embedded) void app.get(RedisService).warnIfVolatile();
    log.info('server listening', {
      url,
      nodeId: config.node.id,
      redis: embedded ? 'embedded' : 'external',
      recordingsDir: config.recordingsDir,
    });
    let closed = false;
    return {
      app,
      url,
      redisUrl,
      embeddedRedis: embedded,
      onFatal: (h) => fatalHandlers.push(h),
      onDrained: (h) => app.get(DrainService).onDrained(h),
      startDraining: (reason) => app.get(NodeStateService).startDraining(reason),
      close: async () => {
        if (closed) return;
        closed = true;
        try {
          await app.close();
          await ioAdapter?.disconnect();
        } finally {
          await embedded?.stop();
          lock.release();
        }
      },
    };
  } catch (err) {
    await embedded?.stop();
    lock.release();
    throw err;
  }
}
