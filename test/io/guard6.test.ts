// The fail-closed guard with IPv6 VN prefixes (issue #10), against the real kernel in a
// throwaway namespace: `unreachable` IPv6 routes beside the IPv4 ones, and the nft table's ip6
// rule dropping (and counting, on the same counter) IPv6 VN packets that would leave by the
// underlay, while IPv6 VN traffic by a vlink passes.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createNetns, deleteNetns, runInNetns } from './netns.js';
import { netnsSkip } from '../netns/helpers.js';
import { guardNftScript, parseNftTable } from '../../src/io/guard.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

test('an IPv6 prefix gets its own set and ip6 rule; the JSON of both sets reads back', () => {
  const s = guardNftScript({ prefixes: ['10.10.0.0/16', 'fd00:10::/64'], vlinks: ['vl-b'] }, { output: { packets: 0, bytes: 0 }, forward: { packets: 0, bytes: 0 } });
  assert.match(s, /set vn_prefixes \{ type ipv4_addr; flags interval; elements = \{ 10\.10\.0\.0\/16 \} \}/);
  assert.match(s, /set vn_prefixes6 \{ type ipv6_addr; flags interval; elements = \{ fd00:10::\/64 \} \}/);
  assert.match(s, /chain output \{ .*ip daddr @vn_prefixes oifname != @allowed_oifs counter name drop_output drop; ip6 daddr @vn_prefixes6 oifname != @allowed_oifs counter name drop_output drop; \}/);
  const only6 = guardNftScript({ prefixes: ['fd00:10::/64'], vlinks: [] }, { output: { packets: 0, bytes: 0 }, forward: { packets: 0, bytes: 0 } });
  assert.doesNotMatch(only6, /ipv4_addr|ip daddr/, 'no empty IPv4 set or rule');
  const parsed = parseNftTable(JSON.stringify({ nftables: [
    { table: { family: 'inet', name: 'iiptran_guard' } },
    { set: { name: 'vn_prefixes', elem: [{ prefix: { addr: '10.10.0.0', len: 16 } }] } },
    { set: { name: 'vn_prefixes6', elem: [{ prefix: { addr: 'fd00:10::', len: 64 } }, 'fd00:99::1'] } },
  ] }));
  assert.deepEqual(parsed.prefixes, ['10.10.0.0/16', 'fd00:10::/64', 'fd00:99::1/128']);
});

describe('OsGuard with IPv6 prefixes in a namespace', { skip: netnsSkip(['ip', 'nft']) }, () => {
  let ns = '';
  const sh = (...argv: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' });
  const op = async (o: string, spec?: object): Promise<Obj> => {
    const r = await runInNetns(ns, 'guard-child.js', spec === undefined ? [o] : [o, JSON.stringify(spec)]);
    assert.ok(r.json?.['ok'], `${o}: ${r.stdout}${r.stderr}`);
    return r.json!;
  };
  const routeTo = (dst: string) => {
    const r = spawnSync('ip', ['netns', 'exec', ns, 'ip', '-j', 'route', 'get', dst], { encoding: 'utf8' });
    return r.status === 0 ? (JSON.parse(r.stdout) as Obj[])[0]!.dev as string : r.stderr.trim();
  };
  const send = (dst: string) => spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e',
    `require('dgram').createSocket('udp6').send('x', 9, '${dst}', (e) => { console.log(e ? e.code : 'sent'); process.exit(0); })`], { encoding: 'utf8' }).stdout.trim();

  before(() => {
    ns = createNetns('guard6');
    sh('ip', 'link', 'set', 'lo', 'up');
    for (const [dev, addr] of [['eth-u', 'fd00:200::1/64'], ['vl-b', 'fd00:255::/127']] as const) {
      sh('ip', 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}-p`);
      sh('ip', 'addr', 'add', addr, 'dev', dev, 'nodad');
      sh('ip', 'link', 'set', `${dev}-p`, 'up');
      sh('ip', 'link', 'set', dev, 'up');
    }
    sh('ip', '-6', 'route', 'add', 'default', 'via', 'fd00:200::ff');
    sh('ip', '-6', 'route', 'add', 'fd00:10::2/128', 'via', 'fd00:255::1', 'dev', 'vl-b');
    // Neighbours that never answer would hold packets in the queue rather than fail the send.
    sh('ip', '-6', 'neigh', 'add', 'fd00:200::ff', 'lladdr', '02:00:00:00:00:ff', 'dev', 'eth-u');
    sh('ip', '-6', 'neigh', 'add', 'fd00:255::1', 'lladdr', '02:00:00:00:00:01', 'dev', 'vl-b');
  });
  after(() => deleteNetns(ns));

  test('unreachable IPv6 routes beat the default route and lose to vlink routes; nft drops what a same-prefix route sends to the underlay', async () => {
    assert.equal(routeTo('fd00:10::9'), 'eth-u', 'before: the default route would carry IPv6 VN traffic in clear');
    const r = await op('apply', { prefixes: ['10.10.0.0/16', 'fd00:10::/64', 'fd00:255::/64'], vlinks: ['vl-b'] });
    assert.deepEqual(r.state.routes.sort(), ['10.10.0.0/16', 'fd00:10::/64', 'fd00:255::/64']);
    assert.deepEqual(r.state.prefixes, ['10.10.0.0/16', 'fd00:10::/64', 'fd00:255::/64']);
    assert.match(routeTo('fd00:10::9'), /No route to host|unreachable|Network is unreachable/i);
    assert.equal(routeTo('fd00:10::2'), 'vl-b', 'the more specific vlink route wins');
    sh('ip', '-6', 'route', 'add', 'fd00:10::/64', 'via', 'fd00:200::ff', 'metric', '10');
    assert.equal(routeTo('fd00:10::9'), 'eth-u', 'a lower-metric same-prefix route beats the unreachable one');
    assert.equal(send('fd00:10::9'), 'EPERM', 'dropped on output by the ip6 rule');
    assert.equal(send('fd00:200::7'), 'sent', 'underlay traffic untouched');
    assert.equal(send('fd00:10::2'), 'sent', 'IPv6 VN traffic by a vlink passes');
    assert.equal((await op('state')).state.drops.output.packets, 1);
    const gone = await op('remove');
    assert.deepEqual(gone.state.routes, []);
    assert.doesNotMatch(sh('ip', '-6', 'route', 'show', 'table', 'all'), /unreachable fd00:10::\/64/);
  });
});
