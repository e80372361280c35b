import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NativeError } from '../../src/errors.js';
import { ipv4ToU32, loadNative, loadNativeTestOnly, READ_HEADROOM, u32ToIpv4 } from '../../src/native/index.js';

const n = loadNative();
const t = loadNativeTestOnly();

describe('native addon: argument validation never reaches the kernel', () => {
  it('rejects bad interface names', () => {
    assert.throws(() => n.tunOpen(''), RangeError);
    assert.throws(() => n.tunOpen('x'.repeat(16)), RangeError);
    assert.throws(() => n.tunOpen('a/b'), RangeError);
    assert.throws(() => n.tunOpen('a b'), RangeError);
    assert.throws(() => n.tunOpen('..'), RangeError);
    assert.throws(() => n.tunOpen(7 as unknown as string), TypeError);
    assert.throws(() => t.ifSetMtu('lo', 20), RangeError);
  });

  it('rejects bad addresses, ports and fds', () => {
    assert.throws(() => n.udpOpen('300.1.1.1', 0), RangeError);
    assert.throws(() => n.udpOpen('127.0.0.1', 65536), RangeError);
    assert.throws(() => n.udpOpen(2 ** 32, 0), RangeError);
    assert.throws(() => n.rawOpen(0, '127.0.0.1'), RangeError);
    assert.throws(() => n.writeBatch(-1, [], 0), RangeError);
    assert.throws(() => n.writeBatch(1.5, [], 0), RangeError);
    assert.throws(() => n.closeFd(1), RangeError, 'stdio is never closed');
  });

  it('rejects inconsistent batches', () => {
    const fd = n.udpOpen('127.0.0.1', 0);
    try {
      const b = [Buffer.from('x')];
      assert.throws(() => n.writeBatch(fd, b, 2), RangeError);
      assert.throws(() => n.writeBatch(fd, ['x'] as unknown as Buffer[], 1), TypeError);
      assert.throws(() => n.sendBatch(fd, b, new Uint32Array(0), new Uint16Array(1), 1), RangeError);
      assert.throws(() => n.sendBatch(fd, b, new Int32Array(1) as unknown as Uint32Array, new Uint16Array(1), 1), TypeError);
      assert.throws(() => n.sendBatch(fd, b, new Uint32Array([0x7f000001]), new Int32Array([-1]), 1), RangeError);
      assert.throws(() => n.sendBatch(fd, b, new Uint32Array(1), new Uint16Array(1), 1, new Uint8Array(1) as unknown as Int32Array), TypeError);
      assert.throws(() => n.sendBatch(fd, b, new Uint32Array([0x7f000001]), new Uint16Array([9]), 1, null, new Uint8Array(0)), RangeError);
      assert.throws(() => n.sendBatch(fd, b, new Uint32Array([0x7f000001]), new Uint16Array([9]), 1, null, new Int32Array(1) as unknown as Uint8Array), TypeError);
    } finally {
      n.closeFd(fd);
    }
  });

  it('reports system call failures as NativeError with errno', () => {
    const fd = n.udpOpen('127.0.0.1', 0);
    n.closeFd(fd);
    assert.throws(
      () => n.closeFd(fd),
      (e: unknown) => e instanceof NativeError && e.errno === 9 && e.code === 'IIPTRAN_ERR_NATIVE' && /EBADF|Bad file/.test(e.message),
    );
    assert.throws(() => n.ifGetMtu('iit-none-here'), (e: unknown) => e instanceof NativeError && e.errno === 19);
    assert.throws(() => n.tunSetCarrier(fd, true), NativeError);
  });

  it('counts refused writes instead of throwing', () => {
    const fd = n.udpOpen('127.0.0.1', 0);
    const status = new Int32Array(1);
    try {
      // An unconnected UDP socket cannot write(): every packet fails with EDESTADDRREQ.
      assert.equal(n.writeBatch(fd, [Buffer.from('a'), Buffer.from('b')], 2, status), 0);
      assert.equal(status[0], 89);
    } finally {
      n.closeFd(fd);
    }
  });
});

describe('native Reader', () => {
  it('validates its arguments', () => {
    const fd = n.udpOpen('127.0.0.1', 0);
    try {
      assert.throws(() => new n.Reader(fd, 'bogus' as 'read', 2048, 8, () => {}), RangeError);
      assert.throws(() => new n.Reader(fd, 'read', 16, 8, () => {}), RangeError);
      assert.throws(() => new n.Reader(fd, 'read', 2048, 0, () => {}), RangeError);
      assert.throws(() => new n.Reader(fd, 'read', 1 << 20, 1024, () => {}), RangeError);
      assert.throws(() => new n.Reader(fd, 'read', 2048, 8, 'cb' as unknown as () => void), TypeError);
    } finally {
      n.closeFd(fd);
    }
  });

  it('refuses a second reader on one fd, closes idempotently, and frees the fd for a new one', () => {
    const fd = n.udpOpen('127.0.0.1', 0);
    try {
      const r = new n.Reader(fd, 'recvmmsg', 2048, 8, () => {});
      assert.equal(r.isActive(), true);
      assert.ok(r.data instanceof ArrayBuffer && r.data.byteLength === 2048 * 8);
      assert.equal(r.lengths.length, 8);
      assert.equal(r.addrs?.length, 8);
      assert.equal(r.ports?.length, 8);
      assert.ok(r.tos instanceof Int16Array && r.tos.length === 8);
      assert.throws(() => new n.Reader(fd, 'recvmmsg', 2048, 8, () => {}), (e: unknown) => e instanceof NativeError && e.errno === 16);
      r.close();
      r.close();
      assert.equal(r.isActive(), false);
      const r2 = new n.Reader(fd, 'recvmmsg', 2048, 8, () => {});
      r2.close();
    } finally {
      n.closeFd(fd);
    }
  });

  it('cannot poll a regular file or a closed fd', () => {
    const f = openSync(new URL(import.meta.url), 'r');
    try {
      assert.throws(() => new n.Reader(f, 'read', 2048, 8, () => {}), NativeError);
    } finally {
      closeSync(f);
    }
    assert.throws(() => new n.Reader(f, 'read', 2048, 8, () => {}), NativeError);
  });

  it('hands its buffer over as untransferable', () => {
    const fd = n.udpOpen('127.0.0.1', 0);
    const r = new n.Reader(fd, 'recvmmsg', 2048, 4, () => {});
    try {
      // Node 20 copies an untransferable buffer instead of moving it; later versions throw.
      try {
        structuredClone(r.data, { transfer: [r.data] });
      } catch {
        // DataCloneError is fine too
      }
      assert.equal(r.data.byteLength, 2048 * 4, 'still attached');
    } finally {
      r.close();
      n.closeFd(fd);
    }
  });

  it('delivers a batch with host-order source addresses and ports', async () => {
    const rx = n.udpOpen('127.0.0.1', 0);
    const tx = n.udpOpen('127.0.0.2', 0);
    const rxPort = n.sockName(rx).port;
    const txPort = n.sockName(tx).port;
    const seen: Array<{ len: number; addr: number; port: number; text: string }> = [];
    const done = new Promise<void>((resolve) => {
      const r = new n.Reader(rx, 'recvmmsg', 2048, 4, (count) => {
        for (let i = 0; i < count; i++) {
          const len = r.lengths[i]!;
          seen.push({ len, addr: r.addrs![i]!, port: r.ports![i]!, text: Buffer.from(r.data, i * 2048, len).toString() });
        }
        if (seen.length >= 6) {
          r.close();
          resolve();
        }
      });
    });
    const bufs = ['a', 'bb', 'ccc', 'dddd', 'eeeee', 'ffffff'].map((s) => Buffer.from(s));
    const status = new Int32Array(1);
    const sent = n.sendBatch(tx, bufs, new Uint32Array(6).fill(0x7f000001), new Int32Array(6).fill(rxPort), 6, status);
    assert.equal(sent, 6);
    assert.equal(status[0], 0);
    await done;
    n.closeFd(rx);
    n.closeFd(tx);
    assert.deepEqual(seen.map((s) => s.text), ['a', 'bb', 'ccc', 'dddd', 'eeeee', 'ffffff']);
    for (const s of seen) {
      assert.equal(s.addr, 0x7f000002);
      assert.equal(s.port, txPort);
    }
  });
});

describe('native Reader async context', () => {
  it('is destroyed for every reader, failed constructions included', async () => {
    const created = new Set<number>();
    const destroyed = new Set<number>();
    const hook = createHook({
      init: (id, type) => void (type === 'iiptran.Reader' && created.add(id)),
      destroy: (id) => void destroyed.add(id),
    }).enable();
    const fd = n.udpOpen('127.0.0.1', 0);
    const file = openSync(new URL(import.meta.url), 'r');
    try {
      const r = new n.Reader(fd, 'recvmmsg', 2048, 4, () => {});
      assert.throws(() => new n.Reader(fd, 'recvmmsg', 2048, 4, () => {}), NativeError, 'EBUSY');
      assert.throws(() => new n.Reader(file, 'read', 2048, 4, () => {}), NativeError, 'regular file');
      r.close();
    } finally {
      closeSync(file);
      n.closeFd(fd);
    }
    // async_hooks emits destroy from a later turn of the loop.
    for (let k = 0; k < 20 && destroyed.size < created.size; k++) await new Promise((res) => setTimeout(res, 5));
    hook.disable();
    assert.equal(created.size, 3);
    assert.deepEqual([...created].filter((id) => !destroyed.has(id)), []);
  });
});

describe('native Reader headroom', () => {
  it("leaves READ_HEADROOM free bytes before each packet in 'read' mode, none in 'recvmmsg' mode", async () => {
    assert.ok(READ_HEADROOM >= 64, 'room for ESP header, IV and a UDP/NAT-T header');
    const rx = n.udpOpen('127.0.0.1', 0);
    const tx = n.udpOpen('127.0.0.1', 0);
    const rxPort = n.sockName(rx).port;
    const texts = ['first', 'second', 'third'];
    const seen: string[] = [];
    // read(2) on a datagram socket returns one datagram, just as on a TUN.
    const r = new n.Reader(rx, 'read', 2048, 4, (count) => {
      for (let i = 0; i < count; i++) {
        const at = i * r.stride + r.headroom;
        // The bytes in front of the packet are the reader's own, never part of the packet.
        seen.push(Buffer.from(r.data, at, r.lengths[i]!).toString());
      }
    });
    try {
      assert.equal(r.headroom, READ_HEADROOM);
      assert.equal(r.stride, READ_HEADROOM + 2048);
      assert.equal(r.data.byteLength, (READ_HEADROOM + 2048) * 4);
      const bufs = texts.map((s) => Buffer.from(s));
      // Fill the headroom with a marker: a read that ignored the headroom would overwrite it.
      new Uint8Array(r.data).fill(0xee);
      assert.equal(n.sendBatch(tx, bufs, new Uint32Array(3).fill(0x7f000001), new Uint16Array(3).fill(rxPort), 3), 3);
      for (let k = 0; k < 100 && seen.length < 3; k++) await new Promise((res) => setTimeout(res, 10));
      assert.deepEqual(seen, texts);
      for (let i = 0; i < 4; i++)
        assert.ok(new Uint8Array(r.data, i * r.stride, READ_HEADROOM).every((b) => b === 0xee), `headroom of slot ${i} untouched`);
      const rm = new n.Reader(tx, 'recvmmsg', 2048, 4, () => {});
      assert.equal(rm.headroom, 0);
      assert.equal(rm.stride, 2048);
      rm.close();
    } finally {
      r.close();
      n.closeFd(rx);
      n.closeFd(tx);
    }
  });
});

describe('native Reader shared arena', () => {
  it('two readers take turns in one ArrayBuffer; one too small is refused', async () => {
    const socks = [n.udpOpen('127.0.0.1', 0), n.udpOpen('127.0.0.1', 0)];
    const tx = n.udpOpen('127.0.0.1', 0);
    const arena = new ArrayBuffer((READ_HEADROOM + 2048) * 4);
    const seen: string[] = [];
    const readers = socks.map((fd, k) => {
      const r = new n.Reader(fd, 'read', 2048, 4, (count) => {
        for (let i = 0; i < count; i++) seen.push(`${k}:${Buffer.from(r.data, i * r.stride + r.headroom, r.lengths[i]!).toString()}`);
      }, arena);
      return r;
    });
    try {
      assert.ok(readers.every((r) => r.data === arena), 'the arena is the readers\' data');
      assert.throws(() => new n.Reader(tx, 'read', 2048, 8, () => {}, arena), RangeError);
      assert.throws(() => new n.Reader(tx, 'read', 2048, 1, () => {}, 'x' as unknown as ArrayBuffer), TypeError);
      for (const [k, fd] of socks.entries()) {
        const port = n.sockName(fd).port;
        n.sendBatch(tx, [Buffer.from(`to-${k}-a`), Buffer.from(`to-${k}-b`)], new Uint32Array(2).fill(0x7f000001), new Uint16Array(2).fill(port), 2);
      }
      for (let i = 0; i < 100 && seen.length < 4; i++) await new Promise((res) => setTimeout(res, 10));
      assert.deepEqual(seen.sort(), ['0:to-0-a', '0:to-0-b', '1:to-1-a', '1:to-1-b']);
    } finally {
      for (const r of readers) r.close();
      for (const fd of [...socks, tx]) n.closeFd(fd);
    }
  });
});

describe('native test-only export', () => {
  it('keeps the MTU/up setters off the daemon surface, and src/ never reaches for them', () => {
    for (const name of ['ifSetMtu', 'ifSetUp']) {
      assert.equal(name in n, false, `${name} is not on NativeAddon`);
      assert.equal(typeof (t as unknown as Record<string, unknown>)[name], 'function', `${name} is on NativeTestOnly`);
    }
    // Compiled sources sit at dist/src; only the loader itself may name the test-only export.
    const srcRoot = fileURLToPath(new URL('../../src/', import.meta.url));
    const loader = join(srcRoot, 'native', 'index.js');
    const testOnlyName = /loadNativeTestOnly|\.testOnly\b|ifSetMtu|ifSetUp/;
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.js') && p !== loader && testOnlyName.test(readFileSync(p, 'utf8'))) offenders.push(p);
      }
    };
    walk(srcRoot);
    assert.deepEqual(offenders, []);
  });
});

describe('native outer TOS: IP_TOS per datagram out, IP_RECVTOS in', () => {
  it('delivers each datagram\'s TOS, ECN bits included, as sent with a per-datagram IP_TOS', async () => {
    const rx = n.udpOpen('127.0.0.1', 0);
    const tx = n.udpOpen('127.0.0.1', 0);
    const rxPort = n.sockName(rx).port;
    // EF + ECT(0), CE alone, 0 (no cmsg at all), everything set, AF41 + ECT(1), then 0 again
    // after non-zero ones: a stale control message must not leak into the next datagram.
    const want = [0xba, 0x03, 0x00, 0xff, 0x89, 0x00];
    const got = new Map<number, number>();
    const done = new Promise<void>((resolve) => {
      const r = new n.Reader(rx, 'recvmmsg', 2048, 8, (count) => {
        for (let i = 0; i < count; i++) got.set(new Uint8Array(r.data, i * 2048, 1)[0]!, r.tos![i]!);
        if (got.size >= want.length + 1) {
          r.close();
          resolve();
        }
      });
    });
    try {
      const bufs = want.map((_, i) => Buffer.from([i]));
      const status = new Int32Array(1);
      const tos = Uint8Array.from(want);
      const k = want.length;
      assert.equal(n.sendBatch(tx, bufs, new Uint32Array(k).fill(0x7f000001), new Uint16Array(k).fill(rxPort), k, status, tos), k);
      assert.equal(status[0], 0);
      // Without the tos argument the socket default (0) applies.
      assert.equal(n.sendBatch(tx, [Buffer.from([99])], new Uint32Array([0x7f000001]), new Uint16Array([rxPort]), 1), 1);
      await done;
    } finally {
      n.closeFd(rx);
      n.closeFd(tx);
    }
    assert.deepEqual(
      want.map((_, i) => got.get(i)),
      want,
    );
    assert.equal(got.get(99), 0);
  });
});

describe('native Reader callback semantics (child process)', () => {
  // Run in a child so an uncaught exception cannot disturb this test runner.
  const script = `
    import { loadNative } from ${JSON.stringify(new URL('../../src/native/index.js', import.meta.url).href)};
    const n = loadNative();
    const rx = n.udpOpen('127.0.0.1', 0);
    const tx = n.udpOpen('127.0.0.1', 0);
    const order = [];
    process.on('uncaughtException', (e) => {
      order.push('uncaught:' + e.message);
      r.close(); n.closeFd(rx); n.closeFd(tx);
      setImmediate(() => console.log(JSON.stringify(order)));
    });
    const r = new n.Reader(rx, 'recvmmsg', 2048, 4, (count) => {
      order.push('cb:' + count);
      process.nextTick(() => order.push('tick'));
      Promise.resolve().then(() => order.push('microtask'));
      setImmediate(() => order.push('immediate'));
      throw new Error('boom');
    });
    n.sendBatch(tx, [Buffer.from('x')], new Uint32Array([0x7f000001]), new Uint16Array([n.sockName(rx).port]), 1);
  `;

  it('runs nextTicks/microtasks after the callback, routes a throw to uncaughtException, and lets the process exit', () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    const order = JSON.parse(r.stdout.trim()) as string[];
    assert.equal(order[0], 'cb:1');
    assert.ok(order.includes('uncaught:boom'), order.join(','));
    assert.ok(order.indexOf('tick') < order.indexOf('immediate'), order.join(','));
    assert.ok(order.indexOf('microtask') < order.indexOf('immediate'), order.join(','));
  });
});

describe('address helpers', () => {
  it('convert between dotted and host-order uint32', () => {
    assert.equal(ipv4ToU32('10.0.0.1'), 0x0a000001);
    assert.equal(ipv4ToU32('255.255.255.255'), 0xffffffff);
    assert.equal(u32ToIpv4(0xc0a80101), '192.168.1.1');
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', ' 1.2.3.4', '1.2.3.x', '1.2.3.0004'])
      assert.equal(ipv4ToU32(bad), -1, bad);
  });
});
