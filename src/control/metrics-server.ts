// The HTTP endpoint of `metrics_listen`: GET /metrics answers the Prometheus text format. Bounded
// like the control socket: a few connections at once, short timeouts, small requests, so a
// scraper (or anything else that finds the port) cannot hold the daemon's memory or loop.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { IiptranError } from '../errors.js';
import { formatListen, type MetricsListen } from './metrics-config.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const MAX_CONNECTIONS = 16;

export class MetricsServer {
  private readonly server: http.Server;
  /** One scrape renders at a time; concurrent scrapers share its result. */
  private inFlight: Promise<string> | null = null;

  constructor(private readonly listen: MetricsListen, private readonly collect: () => Promise<string>, private readonly log: Logger) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.maxConnections = MAX_CONNECTIONS;
    this.server.headersTimeout = 5_000;
    this.server.requestTimeout = 10_000;
    this.server.keepAliveTimeout = 5_000;
    this.server.maxHeadersCount = 50;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const fail = (e: NodeJS.ErrnoException) =>
        reject(new IiptranError('IIPTRAN_ERR_CONFIG', `metrics_listen: cannot listen on ${formatListen(this.listen)}: ${e.code ?? e.message}`, { field: 'metrics_listen', cause: e }));
      this.server.once('error', fail);
      this.server.listen(this.listen.port, this.listen.host, () => {
        this.server.off('error', fail);
        this.server.on('error', (e) => this.log.error({ err: e.message }, 'metrics endpoint error'));
        resolve();
      });
    });
  }

  /** The port really bound (port 0 in tests picks one). */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html><body><a href="/metrics">iiptran metrics</a></body></html>\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    this.inFlight ??= this.collect().finally(() => (this.inFlight = null));
    this.inFlight.then(
      (body) => {
        res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (e: unknown) => {
        this.log.error({ err: (e as Error).message }, 'metrics scrape failed');
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('scrape failed; see the daemon log\n');
      },
    );
  }
}
