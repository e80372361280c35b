// Control socket: a Unix stream socket speaking newline-delimited JSON.
//   request:  {"id": 1, "method": "show", "params": {"what": "routes", "all": false}}
//   response: {"id": 1, "ok": true, "result": {...}} | {"id": 1, "ok": false, "error": {"code", "message"}}
// Requests come from local root tools; still, a malformed one gets an error reply, never a crash.

import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { IiptranError } from '../errors.js';

export type Handler = (params: Record<string, unknown>) => Promise<unknown> | unknown;

const MAX_REQUEST = 64 * 1024;

export class ControlServer {
  private server: net.Server | null = null;

  constructor(
    readonly socketPath: string,
    private readonly handlers: Record<string, Handler>,
    private readonly log: Logger,
  ) {}

  async listen(): Promise<void> {
    fs.mkdirSync(path.dirname(this.socketPath), { recursive: true, mode: 0o755 });
    await this.removeStale();
    const server = net.createServer((c) => this.onConnection(c));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // The socket reveals SA state (never keys); keep it to root and the owning group.
    fs.chmodSync(this.socketPath, 0o660);
    server.on('error', (e) => this.log.error({ err: e }, 'control socket error'));
    this.server = server;
  }

  /** A socket file left by a crashed daemon is removed; a live one means another daemon owns it. */
  private async removeStale(): Promise<void> {
    if (!fs.existsSync(this.socketPath)) return;
    const alive = await new Promise<boolean>((resolve) => {
      const c = net.connect(this.socketPath);
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (alive) {
      throw new IiptranError('IIPTRAN_ERR_CONTROL', `control socket ${this.socketPath} is in use by another running daemon`);
    }
    fs.unlinkSync(this.socketPath);
  }

  private onConnection(c: net.Socket): void {
    let buf = '';
    c.setEncoding('utf8');
    c.on('error', () => c.destroy());
    c.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST) {
        c.end(JSON.stringify({ id: null, ok: false, error: { code: 'IIPTRAN_ERR_CONTROL', message: 'request too large' } }) + '\n');
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        void this.dispatch(line).then((reply) => {
          if (!c.destroyed) c.write(JSON.stringify(reply) + '\n');
        });
      }
    });
  }

  private async dispatch(line: string): Promise<unknown> {
    let id: unknown = null;
    try {
      const req = JSON.parse(line) as { id?: unknown; method?: unknown; params?: unknown };
      id = req.id ?? null;
      const h = typeof req.method === 'string' ? this.handlers[req.method] : undefined;
      if (h === undefined) throw new IiptranError('IIPTRAN_ERR_CONTROL', `unknown method ${JSON.stringify(req.method)}`);
      const params = req.params !== null && typeof req.params === 'object' ? (req.params as Record<string, unknown>) : {};
      return { id, ok: true, result: await h(params) };
    } catch (e) {
      const code = e instanceof IiptranError ? e.code : 'IIPTRAN_ERR_CONTROL';
      return { id, ok: false, error: { code, message: e instanceof Error ? e.message : String(e) } };
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s !== null) await new Promise<void>((r) => s.close(() => r()));
    try {
      fs.unlinkSync(this.socketPath);
    } catch {
      /* already gone */
    }
  }
}
