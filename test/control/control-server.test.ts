// The control socket against hostile or careless local clients: methods only from the table,
// bounded connections, line length and idle time, file mode 0600 or 0660 with a group, and
// memory that stays flat under 800 half-open connections (measured on a server in its own process).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { ControlServer, type ControlLimits } from '../../src/control/control-server.js';
import { controlCall } from '../../src/control/control-client.js';

const log = pino({ level: 'silent' });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-ctl-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Reply = { id: unknown; ok: boolean; result?: unknown; error?: { code: string; message: string } };

async function serve(handlers: ConstructorParameters<typeof ControlServer>[1], limits: Partial<ControlLimits> = {}, gid?: number) {
  const s = new ControlServer(path.join(dir, `s${n++}.sock`), handlers, log, { limits, gid });
  await s.listen();
  return s;
}

const clientsAlive = new Set<net.Socket>();

/** Closes the server after every client, so a failed assertion cannot leave close() waiting on one. */
async function shut(s: ControlServer): Promise<void> {
  for (const c of clientsAlive) c.destroy();
  clientsAlive.clear();
  await s.close();
}

/** A client that collects reply lines and notices when the server closes. */
class Client {
  readonly sock: net.Socket;
  readonly replies: Reply[] = [];
  closed = false;
  private buf = '';
  constructor(p: string) {
    this.sock = net.connect(p);
    clientsAlive.add(this.sock);
    this.sock.setEncoding('utf8');
    this.sock.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.replies.push(JSON.parse(this.buf.slice(0, i)) as Reply);
        this.buf = this.buf.slice(i + 1);
      }
    });
    this.sock.on('error', () => undefined);
    this.sock.on('close', () => (this.closed = true));
  }
  connected(): Promise<void> {
    return new Promise((r) => (this.sock.connecting ? this.sock.once('connect', () => r()) : r()));
  }
  // Generous: the machine may be loaded; these waits are for liveness, not timing assertions.
  async until(cond: () => boolean, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) assert.fail(`timed out; replies so far: ${JSON.stringify(this.replies)}, closed ${this.closed}`);
      await sleep(5);
    }
  }
  async call(line: string): Promise<Reply> {
    const k = this.replies.length;
    this.sock.write(line + '\n');
    await this.until(() => this.replies.length > k);
    return this.replies[k]!;
  }
}

test('methods come only from the table: prototype names are unknown methods', async () => {
  const s = await serve({ ping: () => 'pong' });
  try {
    const c = new Client(s.socketPath);
    for (const m of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf']) {
      const r = await c.call(JSON.stringify({ id: m, method: m }));
      assert.equal(r.ok, false, `${m} answered ok: ${JSON.stringify(r)}`);
      assert.equal(r.id, m);
      assert.equal(r.error?.code, 'IIPTRAN_ERR_CONTROL');
      assert.equal(r.error?.message, `unknown method ${JSON.stringify(m)}; one of: ping`);
    }
    assert.deepEqual(await c.call('{"id":1,"method":"ping"}'), { id: 1, ok: true, result: 'pong' });
    assert.equal(s.stats.unknownMethod, 7);
    c.sock.destroy();
  } finally {
    await shut(s);
  }
});

test('requests that are not JSON objects get an error each, and the connection keeps serving in order', async () => {
  const s = await serve({ ping: () => 'pong', slow: async () => { await sleep(50); return 'slow'; } });
  try {
    const c = new Client(s.socketPath);
    await c.connected();
    // Pipelined in one write: replies come back in request order, one request at a time.
    c.sock.write(['null', '[]', '"x"', '5', 'not json', '{"id":7,"method":"slow"}', '{"id":8,"method":"ping","params":[1]}', ''].join('\n'));
    await c.until(() => c.replies.length === 7);
    assert.deepEqual(c.replies.slice(0, 5).map((r) => r.ok), [false, false, false, false, false]);
    assert.match(c.replies[0]!.error!.message, /must be a JSON object/);
    assert.deepEqual(c.replies.slice(5), [{ id: 7, ok: true, result: 'slow' }, { id: 8, ok: true, result: 'pong' }]);
    c.sock.destroy();
  } finally {
    await shut(s);
  }
});

test('connections over the limit are answered with an error, closed and counted', async () => {
  const s = await serve({ ping: () => 'pong' }, { maxConnections: 4 });
  try {
    const held = [0, 1, 2, 3].map(() => new Client(s.socketPath));
    for (const c of held) assert.equal((await c.call('{"id":1,"method":"ping"}')).ok, true);
    const extra = new Client(s.socketPath);
    await extra.until(() => extra.closed);
    assert.equal(extra.replies.length, 1);
    assert.match(extra.replies[0]!.error!.message, /too many control connections \(limit 4\)/);
    assert.deepEqual({ active: s.stats.active, refused: s.stats.refusedBusy }, { active: 4, refused: 1 });
    // A freed slot is usable again.
    held[0]!.sock.destroy();
    await held[1]!.until(() => s.stats.active === 3);
    const again = new Client(s.socketPath);
    assert.equal((await again.call('{"id":2,"method":"ping"}')).ok, true);
    for (const c of [...held, again]) c.sock.destroy();
  } finally {
    await shut(s);
  }
});

test('a request line over the limit is answered with an error and the connection closed', async () => {
  const s = await serve({ ping: () => 'pong' }, { maxLineBytes: 1024 });
  try {
    const c = new Client(s.socketPath);
    // Exactly at the limit: an ordinary (unparsable) request.
    const r = await c.call('x'.repeat(1024));
    assert.equal(r.ok, false);
    assert.match(r.error!.message, /JSON/);
    assert.equal((await c.call('{"id":3,"method":"ping"}')).ok, true);
    c.sock.write('y'.repeat(1025));
    await c.until(() => c.closed);
    assert.match(c.replies.at(-1)!.error!.message, /request line longer than 1024 bytes/);
    assert.equal(s.stats.lineTooLong, 1);
  } finally {
    await shut(s);
  }
});

test('an idle connection is closed after idleMs; a slow request is not idleness', async () => {
  const s = await serve({ slow: async () => { await sleep(400); return 'done'; } }, { idleMs: 150 });
  try {
    const idle = new Client(s.socketPath);
    await idle.connected();
    const t0 = Date.now();
    await idle.until(() => idle.closed);
    const took = Date.now() - t0;
    assert.ok(took >= 120 && took < 2000, `closed after ${took} ms`);
    assert.equal(s.stats.idleClosed, 1);
    const busy = new Client(s.socketPath);
    assert.deepEqual(await busy.call('{"id":1,"method":"slow"}'), { id: 1, ok: true, result: 'done' });
    assert.equal(busy.closed, false);
    busy.sock.destroy();
  } finally {
    await shut(s);
  }
});

test('socket mode: 0600 by default; 0660 and the group when one is configured', async () => {
  const plain = await serve({});
  const st = fs.statSync(plain.socketPath);
  assert.equal(st.mode & 0o777, 0o600);
  await plain.close();
  const gid = process.getuid?.() === 0 ? 65534 : process.getgid!();
  const grouped = await serve({}, {}, gid);
  const sg = fs.statSync(grouped.socketPath);
  assert.equal(sg.mode & 0o777, 0o660);
  assert.equal(sg.gid, gid);
  await grouped.close();
});

test('800 half-open connections do not grow a server\'s memory', { timeout: 120_000 }, async (t) => {
  const sockPath = path.join(dir, 'rss.sock');
  const child = spawn(process.execPath, [fileURLToPath(new URL('./control-server-child.js', import.meta.url)), sockPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const clients: net.Socket[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
    });
    const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024;
    // Warm up code paths (JSON, dispatch) so the baseline is not the cold process.
    for (let i = 0; i < 20; i++) {
      const c = new Client(sockPath);
      await c.call('{"id":1,"method":"ping"}');
      c.sock.destroy();
    }
    await sleep(200);
    const before = rss();
    // Each client sends 60 KiB of a request line that never ends, and waits: in batches, so the
    // kernel's listen backlog is not what turns them away.
    const chunk = Buffer.alloc(60 * 1024, 0x78);
    for (let b = 0; b < 8; b++) {
      const batch = Array.from({ length: 100 }, () => {
        const s = net.connect(sockPath);
        s.on('error', () => undefined);
        clients.push(s);
        return new Promise<void>((r) => {
          s.once('connect', () => s.write(chunk, () => r()));
          s.once('close', () => r());
        });
      });
      await Promise.all(batch);
    }
    await sleep(500);
    const held = rss();
    t.diagnostic(`MEASURED control socket RSS: ${before.toFixed(1)} MiB before, ${held.toFixed(1)} MiB with 800 half-open connections (+${(held - before).toFixed(1)} MiB)`);
    assert.ok(held - before < 16, `RSS grew by ${(held - before).toFixed(1)} MiB (from ${before.toFixed(1)} to ${held.toFixed(1)})`);
    for (const s of clients) s.destroy();
    // The server sees the held connections close a moment later; until then a probe may be refused.
    let reply: Reply | undefined;
    for (let i = 0; i < 200 && reply?.ok !== true; i++) {
      if (i > 0) await sleep(50);
      const probe = new Client(sockPath);
      reply = await probe.call('{"id":1,"method":"stats"}');
      probe.sock.destroy();
    }
    assert.equal(reply?.ok, true, JSON.stringify(reply));
    const stats = reply.result as { refusedBusy: number; accepted: number } | null;
    assert.ok(stats !== null, 'the server reports its counters');
    assert.ok(stats.refusedBusy >= 800 - 32, `refused ${stats.refusedBusy}`);
  } finally {
    for (const s of clients) s.destroy();
    child.kill('SIGTERM');
  }
});

test('the client reports a server that hangs up without answering at once, not at its timeout', async () => {
  const p = path.join(dir, 'hangup.sock');
  const srv = net.createServer((c) => c.once('data', () => c.destroy()));
  await new Promise<void>((r) => srv.listen(p, () => r()));
  try {
    const t0 = Date.now();
    await assert.rejects(controlCall(p, 'ping', {}, 5000), /closed the connection without an answer/);
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  } finally {
    await new Promise<void>((r) => srv.close(() => r()));
  }
});
