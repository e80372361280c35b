// OsGuard against the real kernel, in a throwaway namespace: what the routes and the nft table
// do to packets (not just that they exist), atomic replacement with counters carried, removal.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createNetns, deleteNetns, runInNetns } from './netns.js';
import { netnsSkip } from '../netns/helpers.js';
import { GUARD_METRIC, GUARD_ROUTE_PROTO, guardNftScript, parseNftTable } from '../../src/io/guard.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'nft']);

test('the nft script and its JSON round-trip without a kernel', () => {
  const s = guardNftScript({ prefixes: ['10.10.0.0/16'], vlinks: ['vl-b'] }, { output: { packets: 3, bytes: 252 }, forward: { packets: 0, bytes: 0 } });
  assert.match(s, /^add table inet iiptran_guard\ndelete table inet iiptran_guard\ntable inet iiptran_guard \{/);
  assert.match(s, /counter drop_output \{ packets 3 bytes 252 \}/);
  assert.match(s, /elements = \{ "lo", "vl-b" \}/);
  const parsed = parseNftTable(JSON.stringify({ nftables: [
    { table: { family: 'inet', name: 'iiptran_guard' } },
    { counter: { name: 'drop_forward', packets: 4, bytes: 400 } },
    { set: { name: 'vn_prefixes', elem: [{ prefix: { addr: '10.10.0.0', len: 16 } }, '172.16.0.9'] } },
    { set: { name: 'allowed_oifs', elem: 'lo' } },
  ] }));
  assert.deepEqual(parsed, { table: true, prefixes: ['10.10.0.0/16', '172.16.0.9/32'], allowed: ['lo'], drops: { output: { packets: 0, bytes: 0 }, forward: { packets: 4, bytes: 400 } } });
});

describe('OsGuard in a namespace', { skip }, () => {
  let ns = '';
  const sh = (...argv: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' });
  const op = async (o: string, spec?: object): Promise<Obj> => {
    const r = await runInNetns(ns, 'guard-child.js', spec === undefined ? [o] : [o, JSON.stringify(spec)]);
    assert.ok(r.json?.['ok'], `${o}: ${r.stdout}${r.stderr}`);
    return r.json!;
  };
  /** The device the kernel picks for dst, or the error it gives. */
  const routeTo = (dst: string) => {
    const r = spawnSync('ip', ['netns', 'exec', ns, 'ip', '-j', 'route', 'get', dst], { encoding: 'utf8' });
    return r.status === 0 ? (JSON.parse(r.stdout) as Obj[])[0]!.dev as string : r.stderr.trim();
  };
  /** One UDP datagram from a socket; sendto fails with EPERM when nftables drops it on output. */
  const send = (dst: string) => spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e',
    `require('dgram').createSocket('udp4').send('x', 9, '${dst}', (e, n) => { console.log(e ? e.code : 'sent'); process.exit(0); })`], { encoding: 'utf8' }).stdout.trim();

  before(() => {
    ns = createNetns('guard');
    sh('ip', 'link', 'set', 'lo', 'up');
    // An "underlay" with a default route, and a "vlink": veths whose far ends go nowhere.
    for (const [dev, addr] of [['eth-u', '192.0.2.1/24'], ['vl-b', '10.255.0.0/31']] as const) {
      sh('ip', 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}-p`);
      sh('ip', 'addr', 'add', addr, 'dev', dev);
      sh('ip', 'link', 'set', `${dev}-p`, 'up');
      sh('ip', 'link', 'set', dev, 'up');
    }
    sh('ip', 'route', 'add', 'default', 'via', '192.0.2.254');
    sh('ip', 'route', 'add', '10.10.0.2/32', 'via', '10.255.0.1', 'dev', 'vl-b');
  });
  after(() => deleteNetns(ns));

  test('apply: unreachable routes beat the default route, lose to vlink routes', async () => {
    assert.equal(routeTo('10.10.0.9'), 'eth-u', 'before: the default route would carry VN traffic in clear');
    const r = await op('apply', { prefixes: ['10.10.0.0/16', '10.255.0.0/16'], vlinks: ['vl-b'] });
    assert.equal(r.before.table, false);
    assert.deepEqual(r.state.routes, ['10.10.0.0/16', '10.255.0.0/16']);
    assert.deepEqual(r.state.allowed, ['lo', 'vl-b']);
    assert.match(sh('ip', 'route', 'show', 'type', 'unreachable'), new RegExp(`unreachable 10\\.10\\.0\\.0/16 proto ${GUARD_ROUTE_PROTO} metric ${GUARD_METRIC}`));
    assert.match(routeTo('10.10.0.9'), /No route to host|unreachable/i);
    assert.equal(routeTo('10.10.0.2'), 'vl-b', 'the more specific vlink route wins');
    assert.equal(routeTo('10.255.0.1'), 'vl-b', 'the link prefix wins');
    sh('ip', 'route', 'add', '10.10.0.0/16', 'dev', 'vl-b', 'metric', '32');
    assert.equal(routeTo('10.10.0.77'), 'vl-b', 'a same-prefix vlink route at a routing daemon metric wins');
    sh('ip', 'route', 'del', '10.10.0.0/16', 'dev', 'vl-b', 'metric', '32');
  });

  test('nft drops and counts VN packets routed to the underlay by a same-prefix route, not those to a vlink', async () => {
    sh('ip', 'route', 'add', '10.10.0.0/16', 'via', '192.0.2.254', 'metric', '10');
    assert.equal(routeTo('10.10.0.9'), 'eth-u', 'a lower-metric same-prefix route beats the unreachable one');
    assert.equal(send('10.10.0.9'), 'EPERM', 'dropped on output');
    assert.equal(send('10.10.0.10'), 'EPERM');
    assert.equal(send('192.0.2.7'), 'sent', 'underlay traffic untouched');
    assert.equal(send('10.10.0.2'), 'sent', 'VN traffic by a vlink passes');
    const st = (await op('state')).state;
    assert.equal(st.drops.output.packets, 2);
    sh('ip', 'route', 'del', '10.10.0.0/16', 'via', '192.0.2.254', 'metric', '10');
  });

  test('apply again (a reload, or a start after a crash): replaced in one go, counters carried, stale routes gone', async () => {
    const r = await op('apply', { prefixes: ['10.10.0.0/16', '172.16.0.0/24'], vlinks: ['vl-c'] });
    assert.equal(r.before.table, true);
    assert.equal(r.before.drops.output.packets, 2);
    assert.equal(r.state.drops.output.packets, 2, 'counter carried over');
    assert.deepEqual(r.state.routes.sort(), ['10.10.0.0/16', '172.16.0.0/24']);
    assert.deepEqual(r.state.prefixes, ['10.10.0.0/16', '172.16.0.0/24']);
    assert.deepEqual(r.state.allowed, ['lo', 'vl-c']);
    assert.equal(send('10.10.0.2'), 'EPERM', 'vl-b is no longer a vlink of this node');
    assert.equal((await op('state')).state.drops.output.packets, 3);
    assert.equal(sh('nft', 'list', 'tables').match(/iiptran_guard/g)?.length, 1, 'one table');
  });

  test('remove: table and routes gone, other routes untouched; a second remove is harmless', async () => {
    const r = await op('remove');
    assert.equal(r.state.table, false);
    assert.deepEqual(r.state.routes, []);
    assert.doesNotMatch(sh('ip', 'route', 'show', 'table', 'all'), /unreachable/);
    assert.match(sh('ip', 'route', 'show'), /default via 192\.0\.2\.254/);
    await op('remove');
    assert.equal(routeTo('10.10.0.9'), 'eth-u');
  });
});
