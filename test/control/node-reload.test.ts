// SIGHUP with fakes: which changes a vlink takes in place (same TUN object, never closed, so
// the kernel routes through it stay), and what happens when a new TUN cannot be avoided (a
// rename): the routes through the old one are put back on the new one. The netns tests
// (test/netns/reload.test.ts) repeat this with real TUNs, real routes and BIRD.

import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { OverlayNode } from '../../src/control/node.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { writeKeyFile, generateKeyHex } from '../../src/control/keyfile.js';
import type { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import type { FakeNetSys } from '../../src/io/fake-netsys.js';
import type { SavedRoute } from '../../src/io/netsys.js';
import { Ipv4, IPPROTO_ICMP } from '../../src/wire/ipv4.js';
import { Icmp } from '../../src/wire/icmp.js';
import { addrFromString as addrOf, formatAddr, ipv4ToU32 } from '../../src/wire/addr.js';
import { IPPROTO_IPIP } from '../../src/dataplane/spd.js';
import { fakeNodeIo, pairYaml, manualKeying, writePairKeys } from './fake-node-io.js';

const log = pino({ level: 'silent' });
const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function packet(seq: number): Buffer {
  const icmp = Icmp.encode({ kind: 'echo-request', identifier: 9, sequence: seq, data: Buffer.alloc(32, seq) });
  return Ipv4.encode({ src: ipv4ToU32('10.10.0.1'), dst: ipv4ToU32('10.10.0.2'), protocol: IPPROTO_ICMP, ttl: 64, dontFragment: true, payload: icmp } as never);
}

interface Opts {
  name?: string;
  peer?: string;
  address?: string;
  mtu?: number;
  liveness?: string;
  replayWindow?: number;
  keyOut?: string;
  keyIn?: string;
}

function yamlFor(dir: string, me: 'a' | 'b', o: Opts = {}): string {
  const extra = [...(o.mtu === undefined ? [] : [`mtu: ${o.mtu}`]), ...(o.replayWindow === undefined ? [] : [`replay_window: ${o.replayWindow}`])];
  return pairYaml(dir, me, manualKeying(me, 'aes-gcm-256', o.keyOut, o.keyIn), { ...o, extra });
}

/** A kernel route through `dev` as the fake keeps it. */
function route(dst: string, gateway: string, dev: string): SavedRoute {
  return {
    dst, table: 254, protocol: 'STATIC', scope: 'UNIVERSE', type: 'UNICAST', tos: 0, metric: null, prefsrc: '10.10.0.1', multipath: false,
    hops: [{ gateway, onVlink: true, ifindex: 1, dev, weight: 1, onlink: false }],
  };
}

describe('reload in place (fakes)', () => {
  let dir: string;
  let a: OverlayNode;
  let b: OverlayNode;
  let tuns: Map<string, FakeTun>;
  let ua: FakeUnderlay;
  let ub: FakeUnderlay;
  let nsA: FakeNetSys;

  const cfg = (me: 'a' | 'b', o: Opts = {}) => parseNodeConfig(yamlFor(dir, me, o), { baseDir: dir });

  /** Writes `n` packets into A's vlink TUN; resolves with how many came out of B's. */
  async function across(n: number, from = 'vl-b'): Promise<number> {
    const tb = tuns.get('vl-a')!;
    const before = tb.written.length;
    for (let i = 0; i < n; i++) tuns.get(from)!.inject([packet(i + 1)]);
    await tick();
    await tick();
    return tb.written.length - before;
  }

  function newKeys(): void {
    const k = generateKeyHex('aes-gcm-256');
    writeKeyFile(path.join(dir, 'a-out.key'), 'aes-gcm-256', { hex: k, overwrite: true });
    writeKeyFile(path.join(dir, 'b-in.key'), 'aes-gcm-256', { hex: k, overwrite: true });
  }

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-reload-'));
    writePairKeys(dir, 'aes-gcm-256');
    [ua, ub] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
    tuns = new Map();
    const ioA = fakeNodeIo(ua, tuns);
    nsA = ioA.netsys as FakeNetSys;
    a = new OverlayNode(cfg('a'), ioA, log);
    b = new OverlayNode(cfg('b'), fakeNodeIo(ub, tuns), log);
    await a.start();
    await b.start();
    nsA.fib.set('vl-b', [route('10.10.0.2/32', '10.255.0.1', 'vl-b')]);
  });

  afterEach(async () => {
    await a.stop();
    await b.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('liveness and MTU change in place: same TUN, never closed, monitor restarted, traffic goes on', async () => {
    const v = a.vlinks.get('vl-b')!;
    const tun = tuns.get('vl-b')!;
    const calls = nsA.calls.length;
    assert.equal(await across(3), 3);
    const r = await a.reload(cfg('a', { mtu: 1400, liveness: '{ interval_ms: 100, dead_ms: 400 }' }));
    assert.deepEqual([r.updated, r.added, r.removed, r.recreated], [['vl-b'], [], [], []]);
    assert.deepEqual(r.changes['vl-b'], ['mtu', 'liveness']);
    assert.equal(a.vlinks.get('vl-b'), v);
    assert.equal(tuns.get('vl-b'), tun);
    assert.equal(tun.closed, false);
    assert.equal(v.mtu, 1400);
    assert.deepEqual(nsA.calls.slice(calls), ['mtu vl-b 1400'], 'one netlink call, no new link');
    assert.deepEqual(nsA.fib.get('vl-b')!.map((x) => x.dst), ['10.10.0.2/32'], 'the route through the TUN is still there');
    assert.deepEqual({ ...a.livenessOf('vl-b'), lastHeardMsAgo: 0 }, { intervalMs: 100, deadMs: 400, lastHeardMsAgo: 0 });
    assert.equal(await across(3), 3, 'traffic after the reload');
  });

  test('liveness turned off while the peer is silent brings the carrier back', async () => {
    await a.reload(cfg('a', { liveness: '{ interval_ms: 50, dead_ms: 150 }' }));
    ua.blackhole = true;
    ub.blackhole = true;
    await sleep(300);
    assert.equal(tuns.get('vl-b')!.carrier, false, 'liveness turned the carrier off');
    const r = await a.reload(cfg('a'));
    assert.deepEqual(r.changes['vl-b'], ['liveness']);
    assert.equal(a.livenessOf('vl-b'), null);
    assert.equal(tuns.get('vl-b')!.carrier, true, 'nothing else would ever turn it on again');
  });

  test('new keys on both ends: new SAs, same TUNs, traffic resumes', async () => {
    assert.equal(await across(5), 5);
    const [ta, tb] = [tuns.get('vl-b')!, tuns.get('vl-a')!];
    const oldOut = a.vlinks.get('vl-b')!.policy.sa!;
    newKeys();
    await a.reload(cfg('a'));
    await b.reload(cfg('b'));
    const out = a.vlinks.get('vl-b')!.policy.sa!;
    assert.notEqual(out, oldOut);
    assert.equal(out.seq, 0, 'a new key starts from sequence number 1');
    assert.equal(await across(4), 4);
    assert.equal(out.seq, 4);
    assert.deepEqual([tuns.get('vl-b'), tuns.get('vl-a'), ta.closed, tb.closed], [ta, tb, false, false]);
  });

  test('the same keys from renamed files keep the running SAs, sequence numbers included', async () => {
    assert.equal(await across(3), 3);
    const out = a.vlinks.get('vl-b')!.policy.sa!;
    const inn = a.vlinks.get('vl-b')!.inbound[0];
    fs.copyFileSync(path.join(dir, 'a-out.key'), path.join(dir, 'a-out2.key'));
    fs.chmodSync(path.join(dir, 'a-out2.key'), 0o600);
    const r = await a.reload(cfg('a', { keyOut: 'a-out2.key' }));
    assert.deepEqual(r.kept, ['vl-b']);
    assert.equal(a.vlinks.get('vl-b')!.policy.sa, out);
    assert.equal(a.vlinks.get('vl-b')!.inbound[0], inn);
    assert.equal(out.seq, 3, 'same SA: the sequence number goes on');
    assert.equal(await across(2), 2);
  });

  test('a new peer address with the same keys: the SPD selects the new peer, the SA carries on', async () => {
    assert.equal(await across(3), 3);
    const v = a.vlinks.get('vl-b')!;
    const out = v.policy.sa!;
    const r = await a.reload(cfg('a', { peer: '192.0.2.9' }));
    assert.deepEqual(r.changes['vl-b'], ['peer']);
    assert.equal(formatAddr(v.peer), '192.0.2.9');
    assert.equal(formatAddr(v.peerDst), '192.0.2.9');
    const local = addrOf('192.0.2.1');
    assert.equal(a.spd.lookup(local, addrOf('192.0.2.2'), IPPROTO_IPIP), undefined, 'no policy for the old peer');
    const pol = a.spd.lookup(local, addrOf('192.0.2.9'), IPPROTO_IPIP)!;
    assert.equal(pol, v.policy);
    assert.equal(pol.sa, out, 'same SA object');
    assert.deepEqual([out.seq, formatAddr(out.dst)], [3, '192.0.2.9']);
    assert.equal(formatAddr(v.inbound[0]!.src), '192.0.2.9', 'inbound packets must now come from the new peer');
    assert.equal(tuns.get('vl-b')!.closed, false);
  });

  test('replay_window grown on a live SA still refuses a packet it had already accepted', async () => {
    assert.equal(await across(4), 4);
    const esp = ua.sent.filter((d) => d.data.length > 64).at(-1)!;
    const vb = b.vlinks.get('vl-a')!;
    const sa = vb.inbound[0]!;
    const r = await b.reload(cfg('b', { replayWindow: 4096 }));
    assert.deepEqual(r.changes['vl-a'], ['replay_window']);
    assert.equal(vb.inbound[0], sa, 'same SA');
    assert.equal(sa.replay.size, 4096);
    const written = tuns.get('vl-a')!.written.length;
    const replays = vb.drops.replay;
    ub.inject([{ data: esp.data, addr: addrOf('192.0.2.1'), port: 4500 }]);
    await tick();
    assert.equal(vb.drops.replay, replays + 1, 'the replayed packet is refused');
    assert.equal(tuns.get('vl-a')!.written.length, written);
    assert.equal(await across(2), 2, 'fresh packets still arrive');
  });

  test('an address change keeps the TUN and puts back the routes through it', async () => {
    const v = a.vlinks.get('vl-b')!;
    const r = await a.reload(cfg('a', { address: '10.255.0.4/31' }));
    assert.deepEqual(r.changes['vl-b'], ['address']);
    assert.equal(r.routesRestored, 1);
    assert.equal(nsA.links.get('vl-b')!.address, '10.255.0.4');
    assert.deepEqual([v.vnAddr, v.vnPrefixLen], ['10.255.0.4', 31]);
    assert.equal(v.icmpSrcU32, ipv4ToU32('10.255.0.5'), 'ICMP errors come from the new link peer');
    assert.ok(nsA.calls.includes('restore vl-b 1'));
    assert.equal(tuns.get('vl-b')!.closed, false);
  });

  test('a rename needs a new TUN: the old one closes and its routes move to the new one', async () => {
    const old = tuns.get('vl-b')!;
    assert.equal(await across(3), 3);
    const out = a.vlinks.get('vl-b')!.policy.sa!;
    let atClose: string[] | undefined;
    const close = old.close.bind(old);
    old.close = () => {
      atClose = (nsA.fib.get('vl-x') ?? []).map((x) => x.dst);
      close();
    };
    const r = await a.reload(cfg('a', { name: 'vl-x' }));
    assert.deepEqual(atClose, ['10.10.0.2/32'], 'make before break: the route was on the new TUN before the old one closed');
    assert.equal(a.vlinks.get('vl-x')!.policy.sa, out, 'same keys: the SA carries on under the new name');
    assert.equal(out.seq, 3, "the sequence number goes on: the peer's replay window would drop a restart from 1");
    assert.deepEqual([r.added, r.removed, r.renamed, r.routesRestored], [['vl-x'], ['vl-b'], [{ from: 'vl-b', to: 'vl-x' }], 1]);
    assert.equal(old.closed, true);
    assert.equal(nsA.fib.has('vl-b'), false, 'the kernel took the old routes with the TUN');
    const moved = nsA.fib.get('vl-x')!;
    assert.deepEqual(moved.map((x) => [x.dst, x.hops[0]!.gateway, x.hops[0]!.dev]), [['10.10.0.2/32', '10.255.0.1', 'vl-x']]);
    assert.equal(await across(2, 'vl-x'), 2, 'traffic through the renamed vlink');
  });

  test('an in-place update that fails falls back to a new TUN, with the routes put back', async () => {
    const old = tuns.get('vl-b')!;
    nsA.setMtu = async () => {
      throw new Error('EPERM (injected)');
    };
    assert.equal(await across(2), 2);
    const out = a.vlinks.get('vl-b')!.policy.sa!;
    const r = await a.reload(cfg('a', { mtu: 1300 }));
    assert.deepEqual([r.recreated, r.updated, r.routesRestored], [['vl-b'], [], 1]);
    assert.equal(a.vlinks.get('vl-b')!.policy.sa, out, 'the new vlink carries the running SA on');
    assert.equal(old.closed, true);
    assert.notEqual(tuns.get('vl-b'), old);
    assert.equal(nsA.links.get('vl-b')!.mtu, 1300, 'the new TUN was configured with the new MTU');
    assert.deepEqual(nsA.fib.get('vl-b')!.map((x) => x.dst), ['10.10.0.2/32']);
    assert.equal(await across(2), 2);
  });
});
