// When the node installs, updates and removes the fail-closed guard, over fakes: the guard must
// be in place before the first TUN exists, follow every reload before any TUN changes, and go
// only on a clean stop. The kernel side is tested in test/io/guard.test.ts and, end to end
// with the attack it defends against, in test/netns/guard.test.ts.

import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { OverlayNode, type NodeIo } from '../../src/control/node.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { writeKeyFile } from '../../src/control/keyfile.js';
import { guardView } from '../../src/control/inspect.js';
import { renderGuard } from '../../src/tools/inspector.js';
import { FakeGuard } from '../../src/io/fake-guard.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { GUARD_METRIC } from '../../src/io/guard.js';
import { fakeNodeIo } from './fake-node-io.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function yaml(dir: string, opts: { vn?: string; names?: string[] } = {}): string {
  const names = opts.names ?? ['vl-b', 'vl-c'];
  return [
    'node: a',
    `control_socket: ${dir}/a.sock`,
    'underlay: { address: 192.0.2.1 }',
    ...(opts.vn === undefined ? [] : [`vn_prefixes: ${opts.vn}`]),
    'vlinks:',
    ...names.flatMap((n, i) => [
      `  - name: ${n}`,
      `    peer: 192.0.2.${i + 2}`,
      `    address: 10.255.0.${2 * i}/31`,
      '    liveness: off',
      `    keying: { mode: manual, suite: aes-gcm-128, spi_in: ${0x1000 + i}, spi_out: ${0x2000 + i}, key_in: in${i}.key, key_out: out${i}.key }`,
    ]),
  ].join('\n');
}

describe('guard lifecycle over fakes', () => {
  let dir: string;
  let guard: FakeGuard;
  let events: string[];
  let logs: Obj[];
  let node: OverlayNode | null;
  let io: NodeIo;
  const log = () => pino({ level: 'info' }, { write: (s: string) => logs.push(JSON.parse(s)) });
  const cfg = (o: { vn?: string; names?: string[] } = {}) => parseNodeConfig(yaml(dir, o), { baseDir: dir });
  const VN = '[10.10.0.0/16, 10.255.0.0/16]';

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-guard-'));
    for (let i = 0; i < 2; i++) for (const k of ['in', 'out']) writeKeyFile(path.join(dir, `${k}${i}.key`), 'aes-gcm-128');
    guard = new FakeGuard();
    events = [];
    logs = [];
    node = null;
    const tuns = new Map<string, FakeTun>();
    const [u] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
    const base = fakeNodeIo(u, tuns);
    // One ordered log of guard calls and TUN births and deaths.
    const g = { apply: guard.apply.bind(guard), remove: guard.remove.bind(guard), state: guard.state.bind(guard) };
    io = {
      ...base,
      openTun: (name) => {
        events.push(`open ${name}`);
        const t = base.openTun(name);
        const close = t.close.bind(t);
        t.close = () => {
          events.push(`close ${name}`);
          close();
        };
        return t;
      },
      guard: {
        apply: async (s) => {
          events.push(`guard ${s.vlinks.join(',')}`);
          return g.apply(s);
        },
        remove: async () => {
          events.push('guard remove');
          return g.remove();
        },
        state: g.state,
      },
    };
  });

  afterEach(async () => {
    await node?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('start installs the guard before the first TUN, with every configured vlink allowed', async () => {
    node = new OverlayNode(cfg({ vn: VN }), io, log());
    await node.start();
    assert.deepEqual(events, ['guard vl-b,vl-c', 'open vl-b', 'open vl-c']);
    assert.deepEqual(guard.current.routes, ['10.10.0.0/16', '10.255.0.0/16']);
    assert.deepEqual(guard.current.allowed, ['lo', 'vl-b', 'vl-c']);
    const v = guardView(node, await guard.state());
    assert.equal(v.installed, true);
    assert.equal(v.metric, GUARD_METRIC);
    assert.equal(v.table, 'inet iiptran_guard');
    assert.deepEqual(v.allowed, ['lo', 'vl-b', 'vl-c']);
    assert.ok(logs.some((l) => /guard installed/.test(l.msg)));
  });

  test('reload: the new vlink set is in place before any TUN changes', async () => {
    node = new OverlayNode(cfg({ vn: VN }), io, log());
    await node.start();
    events.length = 0;
    await node.reload(cfg({ vn: VN, names: ['vl-b', 'vl-d'] }));
    assert.deepEqual(events, ['guard vl-b,vl-d', 'close vl-c', 'open vl-d']);
    assert.deepEqual(guard.current.allowed, ['lo', 'vl-b', 'vl-d']);
    assert.ok(logs.some((l) => l.msg === 'guard updated'));
  });

  test('a rejected reload does not touch the guard', async () => {
    node = new OverlayNode(cfg({ vn: VN }), io, log());
    await node.start();
    fs.rmSync(path.join(dir, 'in1.key'));
    await assert.rejects(node.reload(cfg({ vn: VN, names: ['vl-b', 'vl-d'] })), { code: 'IIPTRAN_ERR_KEYFILE' });
    assert.deepEqual(guard.current.allowed, ['lo', 'vl-b', 'vl-c']);
  });

  test('a clean stop removes the guard, after the vlinks', async () => {
    node = new OverlayNode(cfg({ vn: VN }), io, log());
    await node.start();
    await node.stop();
    assert.deepEqual(events.slice(-3), ['close vl-b', 'close vl-c', 'guard remove']);
    assert.equal(guard.current.table, false);
    assert.deepEqual(guard.current.routes, []);
  });

  test('a start that fails half way leaves the guard, as a crash would', async () => {
    const open = io.openTun;
    io.openTun = (name) => {
      if (name === 'vl-c') throw new Error('TUNSETIFF: device busy');
      return open(name);
    };
    node = new OverlayNode(cfg({ vn: VN }), io, log());
    await assert.rejects(node.start(), /device busy/);
    assert.ok(!events.includes('guard remove'), events.join(' | '));
    assert.equal(guard.current.table, true);
    assert.deepEqual(guard.current.routes, ['10.10.0.0/16', '10.255.0.0/16']);
    node = null;
  });

  test('a guard left by a crashed run is replaced, its drop counters carried and reported', async () => {
    guard.current = { table: true, routes: ['10.10.0.0/16'], prefixes: ['10.10.0.0/16'], allowed: ['lo', 'vl-old'], drops: { output: { packets: 7, bytes: 588 }, forward: { packets: 2, bytes: 168 } } };
    node = new OverlayNode(cfg({ vn: VN }), io, log());
    await node.start();
    assert.deepEqual(guard.current.allowed, ['lo', 'vl-b', 'vl-c']);
    assert.equal(guard.current.drops.output.packets, 7);
    const warn = logs.find((l) => /left by an earlier run/.test(l.msg));
    assert.ok(warn, 'stale guard reported');
    assert.equal(warn.droppedPackets, 9);
    assert.equal(guardView(node, await guard.state()).drops.packets, 9);
  });

  test('without vn_prefixes: no guard, and a warning that VN traffic is not fail-closed', async () => {
    node = new OverlayNode(cfg(), io, log());
    await node.start();
    assert.deepEqual(guard.calls, []);
    assert.ok(logs.some((l) => l.level === 40 && /vn_prefixes is not set: no guard; VN traffic is not fail-closed/.test(l.msg)));
    await node.stop();
    assert.ok(!events.includes('guard remove'), 'nothing to remove');
    const v = guardView(node, await guard.state());
    assert.equal(v.configured, false);
    assert.match(renderGuard(v), /^no guard: vn_prefixes is not set/);
  });

  test('without vn_prefixes, a stale guard is left in place and named in a warning', async () => {
    guard.current = { table: true, routes: ['10.10.0.0/16'], prefixes: ['10.10.0.0/16'], allowed: ['lo', 'vl-b'], drops: { output: { packets: 0, bytes: 0 }, forward: { packets: 0, bytes: 0 } } };
    node = new OverlayNode(cfg(), io, log());
    await node.start();
    assert.equal(guard.current.table, true);
    assert.ok(logs.some((l) => /a guard left by an earlier run is installed .* nft delete table inet iiptran_guard/.test(l.msg)));
  });

  test('without vn_prefixes, a guard that cannot be read (nft missing) does not stop the start', async () => {
    io.guard!.state = async () => {
      throw new Error('nft is not installed');
    };
    node = new OverlayNode(cfg(), io, log());
    await node.start();
    assert.ok(events.includes('open vl-b'));
  });

  test('reload can add and remove vn_prefixes', async () => {
    node = new OverlayNode(cfg(), io, log());
    await node.start();
    await node.reload(cfg({ vn: VN }));
    assert.equal(guard.current.table, true);
    assert.equal(node.guardSpec?.prefixes.length, 2);
    await node.reload(cfg());
    assert.equal(guard.current.table, false);
    assert.equal(node.guardSpec, null);
    assert.ok(logs.some((l) => /vn_prefixes removed from the config: guard removed/.test(l.msg)));
  });

  test('a guard that cannot be installed stops the start before any TUN exists', async () => {
    guard.failApply = true;
    node = new OverlayNode(cfg({ vn: VN }), io, log());
    await assert.rejects(node.start(), { code: 'IIPTRAN_ERR_GUARD' });
    assert.ok(!events.some((e) => e.startsWith('open')), events.join(' | '));
    node = null;
  });

  test('vn_prefixes without a guard implementation is refused, not ignored', async () => {
    delete io.guard;
    node = new OverlayNode(cfg({ vn: VN }), io, log());
    await assert.rejects(node.start(), { code: 'IIPTRAN_ERR_GUARD', message: /started without a guard/ });
    assert.deepEqual(events, []);
    node = null;
  });

  test('a vlink address outside vn_prefixes is warned about', async () => {
    node = new OverlayNode(cfg({ vn: '[10.10.0.0/16]' }), io, log());
    await node.start();
    assert.equal(logs.filter((l) => /vlinks\[\d\]\.address is outside vn_prefixes/.test(l.msg)).length, 2);
  });

  test('the text view: installed, and what is missing when it is not', async () => {
    node = new OverlayNode(cfg({ vn: VN }), io, log());
    await node.start();
    guard.current.drops.output = { packets: 12, bytes: 1008 };
    const text = renderGuard(guardView(node, await guard.state()));
    assert.match(text, /^guard installed/);
    assert.match(text, /10\.255\.0\.0\/16 +yes +yes/);
    assert.match(text, /allowed output interfaces: lo, vl-b, vl-c/);
    assert.match(text, /dropped: 12 packets \(output 12, forward 0\), 1008 bytes/);
    guard.current.routes = ['10.10.0.0/16'];
    const broken = guardView(node, await guard.state());
    assert.equal(broken.installed, false);
    assert.match(renderGuard(broken), /NOT INSTALLED as configured[\s\S]*10\.255\.0\.0\/16 +NO +yes/);
  });
});
