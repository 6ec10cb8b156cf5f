import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import type { Server } from 'socket.io';
import type { AppConfig } from '../config/config';

/**
 * What a node without the `control` role still serves: the probes, the metrics and the drain
 * endpoint (its preStop hook calls it on the node itself). Everything else is the public API.
 */
const NODE_ENDPOINTS: readonly { method: string; path: RegExp }[] = [
  { method: 'GET', path: /^\/healthz\/?$/ },
  { method: 'GET', path: /^\/readyz\/?$/ },
  { method: 'GET', path: /^\/metrics\/?$/ },
  { method: 'POST', path: /^\/api\/nodes\/[^/]+\/drain\/?$/ },
];

function message(config: AppConfig): string {
  return `node ${config.node.id} serves no public API (NODE_ROLES=${[...config.node.roles].join(',')} has no control)`;
}

/**
 * Installs the HTTP side of a node without `control`: an Express middleware ahead of every
 * route and of the static pages, so it must run before the application is initialised.
 */
export function restrictHttpToNodeEndpoints(app: NestExpressApplication, config: AppConfig): void {
  if (config.node.roles.has('control')) return;
  const text = message(config);
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (NODE_ENDPOINTS.some((e) => e.method === req.method && e.path.test(req.path))) return next();
    res.status(404).json({ error: 'not_found', message: text });
  });
}

/**
 * The socket.io side: socket.io answers its own path before Express sees it, so the refusal is
 * at the engine's handshake (HTTP 403 with the message): no client can connect to this node.
 */
export function refuseSignalingConnections(io: Server, config: AppConfig): void {
  if (config.node.roles.has('control')) return;
  const text = message(config);
  io.engine.opts.allowRequest = (_req, callback) => callback(text, false);
}
