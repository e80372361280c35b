// `show routes` for multipath (ECMP) routes: every next hop with its vlink and SAs, while an
// ordinary route keeps the shape it always had (plus a one-entry `nexthops`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { OverlayNode } from '../../src/control/node.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { writeKeyFile, generateKeyHex } from '../../src/control/keyfile.js';
import { routesView } from '../../src/control/inspect.js';
import { renderRoutes } from '../../src/tools/inspector.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import type { KernelRoute } from '../../src/io/netsys.js';
import { fakeNodeIo } from './fake-node-io.js';

const log = pino({ level: 'silent' });

function vlink(name: string, peer: string, addr: string, spiOut: string, spiIn: string): string {
  return `
  - name: ${name}
    peer: ${peer}
    address: ${addr}
    liveness: off
    keying: { mode: manual, suite: aes-gcm-128, spi_out: '${spiOut}', spi_in: '${spiIn}', key_out: ${name}-out, key_in: ${name}-in }`;
}

const base = { protocol: 'bird', metric: 32, scope: 'universe', table: 254 };

const KERNEL: KernelRoute[] = [
  { dst: '10.10.0.9/32', gateway: null, dev: null, ifindex: null, ...base, multipath: [
    { gateway: '10.255.0.1', dev: 'vl-b', ifindex: 1, weight: 1, flags: [] },
    { gateway: '10.255.0.3', dev: 'vl-c', ifindex: 2, weight: 1, flags: ['linkdown'] },
  ] },
  { dst: '10.10.0.2/32', gateway: '10.255.0.1', dev: 'vl-b', ifindex: 1, ...base },
  { dst: '10.20.0.0/24', gateway: null, dev: null, ifindex: null, ...base, multipath: [
    { gateway: '192.0.2.254', dev: 'eth0', ifindex: 9, weight: 1, flags: [] },
    { gateway: '10.255.0.3', dev: 'vl-c', ifindex: 2, weight: 2, flags: [] },
  ] },
  { dst: '0.0.0.0/0', gateway: '192.0.2.254', dev: 'eth0', ifindex: 9, ...base, protocol: 'boot', metric: null },
  { dst: '10.30.0.0/24', gateway: null, dev: null, ifindex: null, ...base, multipath: [
    { gateway: '192.0.2.254', dev: 'eth0', ifindex: 9, weight: 1, flags: [] },
    { gateway: '192.0.2.253', dev: 'eth1', ifindex: 10, weight: 1, flags: [] },
  ] },
];

test('routes view: ECMP over two vlinks lists both next hops with vlink and SAs; single-path shape unchanged', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-routes-'));
  for (const f of ['vl-b-out', 'vl-b-in', 'vl-c-out', 'vl-c-in']) {
    writeKeyFile(path.join(dir, f), 'aes-gcm-128', { hex: generateKeyHex('aes-gcm-128') });
  }
  const yaml = `
node: a
control_socket: ${dir}/a.sock
underlay: { address: 192.0.2.1 }
vlinks:${vlink('vl-b', '192.0.2.2', '10.255.0.0/31', '0x1001', '0x2001')}${vlink('vl-c', '192.0.2.3', '10.255.0.2/31', '0x1002', '0x2002')}
`;
  const node = new OverlayNode(parseNodeConfig(yaml, { baseDir: dir }), fakeNodeIo(new FakeUnderlay('192.0.2.1', 4500), new Map<string, FakeTun>()), log);
  try {
    await node.start();
    node.vlinks.get('vl-c')!.carrier = false;
    const view = JSON.parse(JSON.stringify(routesView(node, KERNEL)));
    assert.deepEqual(view.routes.map((r: { dst: string }) => r.dst), ['10.10.0.9/32', '10.10.0.2/32', '10.20.0.0/24'],
      'routes with at least one vlink path; the all-underlay ones only with --all');

    const [ecmp, single, mixed] = view.routes;
    assert.equal(ecmp.nexthops.length, 2);
    for (const k of ['gateway', 'dev', 'ifindex', 'vlink', 'state', 'outer', 'policy', 'saOut', 'saIn']) {
      assert.equal(ecmp[k], null, `a multipath route has no single ${k}`);
    }
    assert.deepEqual(ecmp.nexthops.map((h: Record<string, unknown>) => [h.gateway, h.vlink, h.state, h.weight, h.flags]), [
      ['10.255.0.1', 'vl-b', 'up', 1, []],
      ['10.255.0.3', 'vl-c', 'down', 1, ['linkdown']],
    ]);
    assert.deepEqual(ecmp.nexthops.map((h: { saOut: { spi: string }; saIn: { spi: string } }) => [h.saOut.spi, h.saIn.spi]), [
      ['0x00001001', '0x00002001'],
      ['0x00001002', '0x00002002'],
    ]);
    assert.deepEqual(ecmp.nexthops[1].outer, { src: '192.0.2.1', dst: '192.0.2.3', proto: 4, encap: 'udp', dport: 4500 });
    assert.deepEqual(ecmp.nexthops[0].policy, { id: 1, action: 'protect' });

    // The single-path route: the fields it always had, in the same order, then `nexthops`.
    assert.deepEqual(Object.keys(single), [
      'dst', 'gateway', 'dev', 'ifindex', 'protocol', 'metric', 'scope', 'table',
      'vlink', 'state', 'outer', 'policy', 'saOut', 'saIn', 'nexthops',
    ]);
    assert.equal(single.vlink, 'vl-b');
    assert.equal(single.saOut.spi, '0x00001001');
    assert.equal(single.nexthops.length, 1);
    assert.deepEqual({ ...single.nexthops[0], weight: undefined, flags: undefined },
      { gateway: single.gateway, dev: single.dev, ifindex: single.ifindex, weight: undefined, flags: undefined, vlink: single.vlink, state: single.state, outer: single.outer, policy: single.policy, saOut: single.saOut, saIn: single.saIn });

    assert.deepEqual(mixed.nexthops.map((h: { vlink: string | null; saOut: unknown }) => [h.vlink, h.saOut === null]), [[null, true], ['vl-c', false]]);
    assert.equal(routesView(node, KERNEL, true).routes.length, 5);

    const text = renderRoutes(view);
    const lines = text.split('\n');
    assert.equal(lines.length, 2 + 5, 'one row per path');
    assert.match(lines[2]!, /^10\.10\.0\.9\/32 \[1\/2\]\s+10\.255\.0\.1\s+bird\s+vl-b\s+up\s+192\.0\.2\.1 > 192\.0\.2\.2 ipip\/udp:4500\s+#1 protect\s+0x00001001/);
    assert.match(lines[3]!, /^10\.10\.0\.9\/32 \[2\/2\]\s+10\.255\.0\.3\s+bird\s+vl-c\s+down\s+192\.0\.2\.1 > 192\.0\.2\.3 ipip\/udp:4500\s+#2 protect\s+0x00001002/);
    assert.match(lines[4]!, /^10\.10\.0\.2\/32\s+10\.255\.0\.1\s+bird\s+vl-b\s+up/);
    assert.match(lines[6]!, /^10\.20\.0\.0\/24 \[2\/2 w2\]\s+10\.255\.0\.3\s+bird\s+vl-c/);
  } finally {
    await node.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
