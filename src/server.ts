import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import * as fs from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import * as path from 'node:path';
import { AppModule } from './app.module';
import { DomainExceptionFilter } from './common/domain-exception.filter';
import { Logger, setLogLevel } from './common/logger';
import { projectRoot } from './common/paths';
import type { AppConfig } from './config/config';
import { EmbeddedRedis } from './redis/embedded-redis';
import { setUpOpenApi } from './openapi';

export interface RunningServer {
  app: NestExpressApplication;
  url: string;
  redisUrl: string;
  close(): Promise<void>;
}

const log = new Logger('server');
const PUBLIC_DIR = path.join(projectRoot(), 'public');

/** Boots the control plane: embedded Redis when no REDIS_URL, then Nest, then listen. */
export async function startServer(config: AppConfig): Promise<RunningServer> {
  setLogLevel(config.logLevel);
  fs.mkdirSync(config.recordingsDir, { recursive: true });
  let embedded: EmbeddedRedis | null = null;
  let redisUrl = config.redisUrl;
  if (!redisUrl) {
    embedded = new EmbeddedRedis(config.dataDir);
    redisUrl = await embedded.start();
  }
  try {
    const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config, redisUrl), {
      logger: ['error', 'warn'],
      bodyParser: true,
    });
    app.useBodyParser('json', { limit: '256kb' });
    app.useGlobalFilters(new DomainExceptionFilter());
    setUpOpenApi(app);
    // The browser client and admin page (public/, bundled into public/dist by the build).
    app.useStaticAssets(PUBLIC_DIR, { index: 'index.html', fallthrough: true });
    await app.listen(config.port, config.host);
    // Longer than the usual 60 s idle timeout of load balancers and than any client keep-alive,
    // so that the server is never the side that closes an idle connection a client is reusing
    // (the request would fail with ECONNRESET).
    const http = app.getHttpServer() as HttpServer;
    http.keepAliveTimeout = 65_000;
    http.headersTimeout = 66_000;
    const addr = app.getHttpServer().address() as { port: number };
    const url = `http://${config.host}:${addr.port}`;
    log.info('server listening', {
      url,
      redis: embedded ? 'embedded' : 'external',
      recordingsDir: config.recordingsDir,
    });
    let closed = false;
    return {
      app,
      url,
      redisUrl,
      close: async () => {
        if (closed) return;
        closed = true;
        await app.close();
        await embedded?.stop();
      },
    };
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
}
