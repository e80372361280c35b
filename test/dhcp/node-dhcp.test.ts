// DHCP wired into the node daemon, over fakes (test/dhcp/node-rig.ts): the spoke's client and
// the hub's relay talk through the real data plane (ESP over a fake underlay), the hub's relay
// reaches a FakeServer by its UDP socket. What the kernel would be told is read off FakeDhcpNet
// and FakeNetSys; what crosses the vlink is decoded, never assumed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { MessageType, RelaySub, messageType, relayAgentInfo, subOption } from '../../src/wire/dhcp/index.js';
import { ipv4ToU32, u32ToIpv4 } from '../../src/wire/addr.js';
import { frameDhcp } from '../../src/dhcp/frame.js';
import { renderDhcp } from '../../src/tools/dhcp-inspector.js';
import type { FakeNetSys } from '../../src/io/fake-netsys.js';
import { HUB_VN, POOL, RELAY, rig, until, type Rig } from './node-rig.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const view = (r: Rig, which: 'hub' | 'spoke') => r[which].dhcp!.view() as Obj;
const bound = (r: Rig) => until(() => r.spoke?.dhcp?.clients.get('vl-a')?.installed !== null && r.spoke?.dhcp?.clients.get('vl-a')?.installed !== undefined, 'the spoke to install its lease');
const hubNetsys = (r: Rig) => (r.hub as unknown as { io: { netsys: FakeNetSys } }).io.netsys;

test('a spoke gets its VN address through the hub\'s relay: option 82 from the vlink, /32 route and TUN peer on the hub', async () => {
  const r = await rig();
  try {
    await r.startSpoke();
    await bound(r);
    await r.hub.dhcp!.settled();
    // The spoke: the lease is on the TUN, point to point to the hub, and the data plane knows it.
    assert.deepEqual(r.spokeNet.linkAddresses.get('vl-a'), [{ address: POOL, peer: HUB_VN }]);
    assert.equal(r.spoke.vlinks.get('vl-a')!.vnAddr, POOL);
    // What the server got was relayed: giaddr the hub, hops 1, circuit-id the hub's vlink,
    // remote-id the identity the spoke's keys prove (manual keying: its underlay address).
    const d = r.toServer.find((m) => messageType(m) === MessageType.DISCOVER)!;
    assert.equal(u32ToIpv4(d.giaddr), RELAY);
    assert.equal(d.hops, 1);
    assert.equal(d.htype, 31);
    assert.equal(d.chaddr.subarray(0, 6).toString('hex'), '4000c0000202', 'RFC 3456 chaddr: 0x4000 + underlay 192.0.2.2');
    const ri = relayAgentInfo(d);
    assert.equal(subOption(ri, RelaySub.CIRCUIT_ID)!.toString(), 'vl-b');
    assert.equal(subOption(ri, RelaySub.REMOTE_ID)!.toString(), '192.0.2.2');
    // The hub: a /32 via the vlink at the configured metric, and the TUN's peer is the lease.
    assert.deepEqual(r.hubNet.routes.get(POOL), { link: 'vl-b', metric: 64 });
    const l = hubNetsys(r).links.get('vl-b')!;
    assert.deepEqual([l.address, l.prefixLen, l.peer], [HUB_VN, 32, POOL]);
    assert.equal(r.hub.vlinks.get('vl-b')!.vnPeer, POOL);
    // DHCP never reached either TUN: the node took it out of the receive path.
    for (const [name, t] of r.tuns) assert.ok(!t.written.some((p) => p[9] === 17 && [67, 68].includes(p.readUInt16BE(22))), `DHCP written into ${name}`);
    const sv = view(r, 'spoke');
    assert.equal(sv.clients[0].state, 'BOUND');
    assert.equal(sv.clients[0].lease.address, POOL);
    assert.equal(sv.clients[0].lease.server, RELAY);
    assert.ok(sv.clients[0].trace.some((t: string) => /REQUESTING -> BOUND/.test(t)));
    const hv = view(r, 'hub');
    assert.deepEqual(hv.relay.bindings.map((b: Obj) => `${b.address}@${b.vlink}`), [`${POOL}@vl-b`]);
    assert.equal(hv.relay.vlinks['vl-b'].identity, '192.0.2.2');
    assert.match(renderDhcp(sv), /vl-a +BOUND +10\.10\.5\.10 +10\.99\.0\.1/);
    assert.match(renderDhcp(hv), /10\.10\.5\.10 +vl-b/);
  } finally {
    await r.stop();
  }
});

test('a clean stop RELEASEs: the server frees the lease, the hub drops route and TUN peer, the spoke its address', async () => {
  const r = await rig();
  try {
    await r.startSpoke();
    await bound(r);
    await r.spoke.stop();
    await until(() => r.server.seen.includes('RELEASE ciaddr 54'), 'the RELEASE at the server');
    await until(() => !r.hubNet.routes.has(POOL), 'the route to go');
    await r.hub.dhcp!.settled();
    assert.equal(hubNetsys(r).links.get('vl-b')!.peer, undefined);
    assert.deepEqual(r.spokeNet.linkAddresses.get('vl-a'), []);
    assert.equal(r.server.leases.size, 0);
    const stored = JSON.parse(fs.readFileSync(`${r.dir}/b.lease.json`, 'utf8')) as Obj;
    assert.equal(stored.lease, null, 'a released lease is not kept for INIT-REBOOT');
    assert.equal(r.spoke.dhcp!.clients.get('vl-a')!.events.lost.released, 1);
  } finally {
    await r.stop();
  }
});

test('release: false keeps the lease over a stop; the next start asks for it by INIT-REBOOT and keeps the address', async () => {
  const r = await rig({ spokeDhcp: ['release: false'] });
  try {
    await r.startSpoke();
    await bound(r);
    await r.spoke.stop();
    // Manual SAs restart their sequence numbers, so both ends restart (IKE vlinks need not).
    await r.hub.stop();
    assert.ok(!r.server.seen.some((s) => s.startsWith('RELEASE')));
    const seen = r.server.seen.length;
    await r.startHub();
    await r.startSpoke();
    await bound(r);
    assert.deepEqual(r.server.seen.slice(seen), ['REQUEST 50'], 'INIT-REBOOT: REQUEST with option 50, no server id, no DISCOVER');
    assert.equal(r.spoke.vlinks.get('vl-a')!.vnAddr, POOL);
    assert.match(view(r, 'spoke').clients[0].trace.join('\n'), /INIT-REBOOT/);
  } finally {
    await r.stop();
  }
});

test('an address already on another link of the node is DECLINEd, and the next lease is used', async () => {
  const r = await rig();
  try {
    r.spokeNet.others.push({ link: 'eth9', address: POOL });
    await r.startSpoke();
    await until(() => r.server.seen.includes('DECLINE 50 54'), 'the DECLINE');
    await bound(r);
    const got = r.spokeNet.linkAddresses.get('vl-a')!;
    assert.equal(got.length, 1);
    assert.notEqual(got[0]!.address, POOL);
    assert.equal(r.spoke.dhcp!.clients.get('vl-a')!.events.declined, 1);
  } finally {
    await r.stop();
  }
});

test('RENEW at T1 goes unicast to the hub, which relays it; lost at expiry: address and route removed', async () => {
  const r = await rig({ lease: 3, t1: 1, t2: 2 });
  try {
    await r.startSpoke();
    await bound(r);
    await until(() => r.spoke.dhcp!.clients.get('vl-a')!.events.renewed >= 1, 'a renewal', 3000);
    const renew = r.toServer.find((m) => messageType(m) === MessageType.REQUEST && m.ciaddr !== 0)!;
    assert.equal(u32ToIpv4(renew.ciaddr), POOL);
    assert.equal(u32ToIpv4(renew.giaddr), RELAY, 'the RENEW passed the relay');
    assert.equal(r.spoke.vlinks.get('vl-a')!.vnAddr, POOL, 'address kept');
    r.server.silent = true;
    await until(() => (r.spoke.dhcp!.clients.get('vl-a')!.events.lost.expired ?? 0) === 1, 'the lease to expire', 6000);
    await r.spoke.dhcp!.settled();
    assert.deepEqual(r.spokeNet.linkAddresses.get('vl-a'), []);
    assert.equal(r.spoke.vlinks.get('vl-a')!.vnAddr, '0.0.0.0');
    await until(() => !r.hubNet.routes.has(POOL), 'the hub to drop the expired route', 3000);
  } finally {
    await r.stop();
  }
});

test('the hub relays only client broadcasts and unicasts to its relay address; other UDP 67 and non-DHCP reach the TUN', async () => {
  const r = await rig();
  try {
    const v = r.hub.vlinks.get('vl-b')!;
    const hook = (p: Buffer) => r.hub.dhcp!.intercept(v, p);
    const any = Buffer.alloc(300);
    assert.equal(hook(frameDhcp(any, ipv4ToU32('10.10.5.9'), ipv4ToU32('10.10.9.9'), 68, 67)), false, 'DHCP to another server is routed on');
    assert.equal(hook(frameDhcp(any, 0, 0xffffffff, 68, 53)), false);
    assert.equal(hook(frameDhcp(any, 0, 0xffffffff, 68, 67)), true);
    const bad = frameDhcp(any, 0, 0xffffffff, 68, 67);
    bad[bad.length - 1] ^= 1; // UDP checksum no longer matches
    assert.equal(hook(bad), true, 'a damaged DHCP packet is taken and dropped, not passed on');
    assert.equal(view(r, 'hub').drops['udp-malformed'], 1);
    assert.deepEqual(view(r, 'hub').relay.drops, { 'malformed:bad-op': 1 }, 'the zero payload reached the relay and was refused there');
  } finally {
    await r.stop();
  }
});

test('a reload may not add, change or remove DHCP (restart the daemon)', async () => {
  const r = await rig();
  try {
    const { parseNodeConfig } = await import('../../src/control/config.js');
    const next = parseNodeConfig(r.hubYaml.replace('servers: [10.99.0.2]', 'servers: [10.99.0.3]'), { baseDir: r.dir });
    await assert.rejects(r.hub.reload(next), /dhcp_relay: cannot change on reload; restart the daemon/);
    const noPeer = parseNodeConfig(r.hubYaml.replace('peer_address: dhcp', 'peer_address: 10.10.0.2'), { baseDir: r.dir });
    await assert.rejects(r.hub.reload(noPeer), /vlinks\[0\]: vl-b: a vlink with address or peer_address dhcp cannot be added or changed on reload/);
  } finally {
    await r.stop();
  }
});

test('a relay that cannot bind UDP 67 on its address stops the start, naming dhcp_relay.address', async () => {
  const r = await rig();
  try {
    const { OverlayNode } = await import('../../src/control/node.js');
    const { parseNodeConfig } = await import('../../src/control/config.js');
    const { fakeNodeIo } = await import('../control/fake-node-io.js');
    const { FakeUnderlay } = await import('../../src/io/fake-underlay.js');
    const { FakeDhcpNet } = await import('../../src/io/fake-dhcp-net.js');
    const pino = (await import('pino')).default;
    const io = fakeNodeIo(new FakeUnderlay('192.0.2.1', 4500), new Map(), {
      dhcp: { net: new FakeDhcpNet(), openUdp: async () => { throw new Error('bind EADDRNOTAVAIL 10.99.0.1:67'); } },
    });
    const n = new OverlayNode(parseNodeConfig(r.hubYaml.replace(/control_socket: .*/, `control_socket: ${r.dir}/x.sock`), { baseDir: r.dir }), io, pino({ level: 'silent' }));
    await assert.rejects(n.start(), (e: Error & { code?: string; field?: string }) => {
      assert.equal(e.code, 'IIPTRAN_ERR_CONFIG');
      assert.equal(e.field, 'dhcp_relay.address');
      assert.match(e.message, /^dhcp_relay\.address: cannot bind UDP 10\.99\.0\.1:67 .*EADDRNOTAVAIL/);
      return true;
    });
    assert.equal(n.vlinks.size, 0, 'the half-started node was undone');
  } finally {
    await r.stop();
  }
});
