// Control socket: a Unix stream socket speaking newline-delimited JSON.
//   request:  {"id": 1, "method": "show", "params": {"what": "routes", "all": false}}
//   response: {"id": 1, "ok": true, "result": {...}} | {"id": 1, "ok": false, "error": {"code", "message"}}
// Requests come from local tools allowed by the socket's mode (root, or the configured group);
// still, nothing a client sends may crash the daemon or grow its memory without bound:
// methods come from an explicit table (never the prototype chain), connections, line length and
// idle time are capped, and one connection's requests run one at a time with write backpressure.

import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { IiptranError } from '../errors.js';
import { realClock } from '../clock.js';
import { RateLimit } from '../rate-limit.js';

export type Handler = (params: Record<string, unknown>) => Promise<unknown> | unknown;

export interface ControlLimits {
  /** Connections served at once; one more is answered with an error and closed. */
  maxConnections: number;
  /** Longest request line in bytes (without its newline). */
  maxLineBytes: number;
  /** A connection that sends nothing for this long, with no request running, is closed. */
  idleMs: number;
}

export const DEFAULT_CONTROL_LIMITS: ControlLimits = { maxConnections: 32, maxLineBytes: 64 * 1024, idleMs: 10_000 };

export interface ControlServerOptions {
  limits?: Partial<ControlLimits>;
  /** Group allowed to use the socket (mode 0660, chowned to it); absent: root only (0600). */
  gid?: number | undefined;
}

/** Connections turned away or cut, by reason; all of them are also logged (rate-limited). */
export interface ControlStats {
  accepted: number;
  active: number;
  refusedBusy: number;
  lineTooLong: number;
  idleClosed: number;
  unknownMethod: number;
}

type Refusal = 'refusedBusy' | 'lineTooLong' | 'idleClosed';

const LOG_EVERY_MS = 10_000;

export class ControlServer {
  private server: net.Server | null = null;
  private readonly handlers: ReadonlyMap<string, Handler>;
  private readonly limits: ControlLimits;
  private readonly gid: number | undefined;
  private readonly conns = new Set<net.Socket>();
  private readonly counts = { accepted: 0, refusedBusy: 0, lineTooLong: 0, idleClosed: 0, unknownMethod: 0 };
  private readonly logLimit = new RateLimit(LOG_EVERY_MS, realClock);
  /** The count of each refusal at its last log line, so the next line says how many since. */
  private readonly loggedAt = new Map<Refusal, number>();

  constructor(
    readonly socketPath: string,
    handlers: Record<string, Handler>,
    private readonly log: Logger,
    opts: ControlServerOptions = {},
  ) {
    // Own enumerable entries only: "constructor", "toString", "__proto__" are never methods.
    this.handlers = new Map(Object.entries(handlers));
    this.limits = { ...DEFAULT_CONTROL_LIMITS, ...opts.limits };
    this.gid = opts.gid;
  }

  get stats(): ControlStats {
    return { ...this.counts, active: this.conns.size };
  }

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
    try {
      // The socket reveals SA state (never keys) and can reload the config: root, and the
      // configured group only if there is one.
      fs.chmodSync(this.socketPath, 0o600);
      if (this.gid !== undefined) {
        fs.chownSync(this.socketPath, process.getuid?.() ?? 0, this.gid);
        fs.chmodSync(this.socketPath, 0o660);
      }
    } catch (e) {
      await new Promise<void>((r) => server.close(() => r()));
      fs.rmSync(this.socketPath, { force: true });
      const why = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new IiptranError('IIPTRAN_ERR_CONTROL', `cannot set owner group ${this.gid} / mode on control socket ${this.socketPath} (${why})`, { cause: e });
    }
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

  /** Counts a refused or cut connection; logs at most one line per reason per 10 s, with the count since. */
  private refuse(why: Refusal, detail: string): void {
    this.counts[why]++;
    if (!this.logLimit.take(why)) return;
    const since = this.counts[why] - (this.loggedAt.get(why) ?? 0);
    this.loggedAt.set(why, this.counts[why]);
    this.log.warn({ reason: why, count: this.counts[why], sinceLastLog: since, limits: this.limits }, `control socket: ${detail}`);
  }

  private onConnection(c: net.Socket): void {
    c.on('error', () => c.destroy());
    if (this.conns.size >= this.limits.maxConnections) {
      this.refuse('refusedBusy', `${this.conns.size} connections open (limit ${this.limits.maxConnections}); refusing more`);
      c.end(errorLine(null, `too many control connections (limit ${this.limits.maxConnections}); try again`), () => c.destroy());
      return;
    }
    this.counts.accepted++;
    this.conns.add(c);
    c.on('close', () => this.conns.delete(c));

    let buf: Buffer = Buffer.alloc(0);
    let busy = false;
    c.setTimeout(this.limits.idleMs, () => {
      // A slow request (a reload) is not idleness.
      if (busy) return;
      this.refuse('idleClosed', `closed a connection idle for ${this.limits.idleMs} ms`);
      c.destroy();
    });

    const pump = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      let nl: number;
      while (!c.destroyed && (nl = buf.indexOf(0x0a)) >= 0) {
        const line = buf.subarray(0, nl).toString('utf8');
        buf = buf.subarray(nl + 1);
        // One request at a time: read no more until its reply is written and drained.
        c.pause();
        const reply = await this.dispatch(line);
        if (c.destroyed) break;
        if (!c.write(JSON.stringify(reply) + '\n')) {
          await new Promise<void>((r) => {
            c.once('drain', r);
            c.once('close', r);
          });
        }
      }
      busy = false;
      if (!c.destroyed) c.resume();
    };

    c.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const tail = buf.length - (buf.lastIndexOf(0x0a) + 1);
      if (tail > this.limits.maxLineBytes) {
        this.refuse('lineTooLong', `closed a connection whose request line exceeded ${this.limits.maxLineBytes} bytes`);
        buf = Buffer.alloc(0);
        c.removeAllListeners('data');
        c.end(errorLine(null, `request line longer than ${this.limits.maxLineBytes} bytes`), () => c.destroy());
        return;
      }
      void pump();
    });
  }

  private async dispatch(line: string): Promise<unknown> {
    let id: unknown = null;
    try {
      const req: unknown = JSON.parse(line);
      if (req === null || typeof req !== 'object' || Array.isArray(req)) {
        throw new IiptranError('IIPTRAN_ERR_CONTROL', 'a request must be a JSON object: {"id", "method", "params"}');
      }
      const r = req as { id?: unknown; method?: unknown; params?: unknown };
      id = r.id ?? null;
      const h = typeof r.method === 'string' ? this.handlers.get(r.method) : undefined;
      if (h === undefined) {
        this.counts.unknownMethod++;
        throw new IiptranError('IIPTRAN_ERR_CONTROL', `unknown method ${JSON.stringify(r.method) ?? 'undefined'}; one of: ${[...this.handlers.keys()].join(', ')}`);
      }
      const params = r.params !== null && typeof r.params === 'object' && !Array.isArray(r.params) ? (r.params as Record<string, unknown>) : {};
      return { id, ok: true, result: await h(params) };
    } catch (e) {
      const code = e instanceof IiptranError ? e.code : 'IIPTRAN_ERR_CONTROL';
      return { id, ok: false, error: { code, message: e instanceof Error ? e.message : String(e) } };
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    // Idle clients must not hold the daemon's shutdown.
    for (const c of this.conns) c.destroy();
    if (s !== null) await new Promise<void>((r) => s.close(() => r()));
    try {
      fs.unlinkSync(this.socketPath);
    } catch {
      /* already gone */
    }
  }
}

function errorLine(id: unknown, message: string): string {
  return JSON.stringify({ id, ok: false, error: { code: 'IIPTRAN_ERR_CONTROL', message } }) + '\n';
}
