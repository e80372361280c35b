// The hub's relay against real bytes: client messages built by our client code, and the replies
// a real Kea 2.2 sent (test/wire/dhcp/kea-vectors.ts). Checked: the relayed request is byte for
// byte what Kea accepted, option 82 carries the vlink and the caller's IKE identity whatever the
// packet claims, replies go to the vlink their circuit-id names with 82 stripped, routes follow
// ACK / RELEASE / NAK / expiry, the rate limit holds per vlink, and every drop has its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import {
  Dhcp, DhcpMalformed, MessageType, Opt, RelaySub, clientIdFromName, encodeRelayAgentInfo, messageType, optionData, relayAgentInfo,
  rfc3456Chaddr, subOption, u32Data, u32Option, type DhcpRepr,
} from '../../src/wire/dhcp/index.js';
import { buildClientMessage, type ClientIdentity } from '../../src/dhcp/client-messages.js';
import { DhcpRelay, type RouteEvent } from '../../src/dhcp/relay.js';
import { FakeClock } from '../../src/fake-clock.js';
import { KEA_VECTORS } from '../wire/dhcp/kea-vectors.js';

const HUB = ipv4ToU32('10.99.0.1');
const KEA = ipv4ToU32('10.99.0.2');
const A_ADDR = ipv4ToU32('10.10.5.10');
const vec = (name: string) => Buffer.from(KEA_VECTORS.find((v) => v.name === name)!.hex.replace(/\s+/g, ''), 'hex');
const idA: ClientIdentity = { chaddr: rfc3456Chaddr(ipv4ToU32('10.200.1.2'), 1), clientId: clientIdFromName('spoke-a.test') };
const idB: ClientIdentity = { chaddr: rfc3456Chaddr(ipv4ToU32('10.200.2.2'), 7), clientId: clientIdFromName('spoke-b.test') };

function rig(rate?: { burst: number; perSecond: number }, serverIdMode?: 'server-configured' | 'rfc5107') {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const toServer: { payload: Buffer; server: number }[] = [];
  const toVlink: { vlink: string; payload: Buffer; dst: number }[] = [];
  const routes: RouteEvent[] = [];
  const relay = new DhcpRelay({
    relayAddr: HUB, servers: [KEA], clock, ...(rate ? { rate } : {}), ...(serverIdMode ? { serverIdMode } : {}),
    output: { toServer: (payload, server) => toServer.push({ payload, server }), toVlink: (vlink, payload, dst) => toVlink.push({ vlink, payload, dst }), route: (e) => routes.push(e) },
  });
  return { clock, relay, toServer, toVlink, routes };
}

/** A client message as our client sends it, with flags cleared like the captured requests. */
function clientMsg(id: ClientIdentity, type: number, xid: number, f: { ciaddr?: number; requested?: number; serverId?: number } = {}): Buffer {
  const r = Dhcp.decode(buildClientMessage(id, type, { xid, secs: 0, ...f })) as DhcpRepr;
  return Dhcp.encode({ ...r, flags: 0 });
}

const decode = (b: Buffer) => Dhcp.decode(b) as DhcpRepr;

test('a relayed DISCOVER is byte for byte the request Kea answered: giaddr, hops + 1, 82 = vlink + IKE identity', () => {
  const r = rig();
  r.relay.fromVlink('vl-a', 'spoke-a.test', clientMsg(idA, MessageType.DISCOVER, 0x1a2b3c01));
  assert.equal(r.toServer.length, 1);
  assert.equal(r.toServer[0]!.server, KEA);
  assert.deepEqual(r.toServer[0]!.payload, vec('DISCOVER_A_REQ'));
  const sel = clientMsg(idA, MessageType.REQUEST, 0x1a2b3c01, { requested: A_ADDR, serverId: HUB });
  r.relay.fromVlink('vl-a', 'spoke-a.test', sel);
  assert.deepEqual(r.toServer[1]!.payload, vec('REQUEST_A_REQ'));
});

test("Kea's replies go to the vlink named by the circuit-id, option 82 stripped, everything else unchanged", () => {
  const r = rig();
  r.relay.fromVlink('vl-a', 'spoke-a.test', clientMsg(idA, MessageType.DISCOVER, 0x1a2b3c01));
  r.relay.fromVlink('vl-b', 'spoke-b.test', clientMsg(idB, MessageType.DISCOVER, 0x1a2b3c03));
  for (const [name, vlink] of [['DISCOVER_A_REPLY', 'vl-a'], ['DISCOVER_B_REPLY', 'vl-b']] as const) {
    r.relay.fromServer(vec(name), KEA);
    const out = r.toVlink.at(-1)!;
    assert.equal(out.vlink, vlink);
    const d = decode(out.payload);
    assert.equal(optionData(d, Opt.RELAY_AGENT_INFO), undefined);
    const k = decode(vec(name));
    assert.deepEqual(d.options, k.options.filter((o) => o.code !== Opt.RELAY_AGENT_INFO));
    assert.equal(out.payload.length, vec(name).length - 2 - optionData(k, Opt.RELAY_AGENT_INFO)!.length);
    assert.deepEqual({ ...d, options: [] }, { ...k, options: [] });
    assert.equal(out.dst, d.yiaddr, 'flags 0, no ciaddr: unicast to yiaddr');
  }
});

test("the NAK's option 54 (Kea's own address) becomes the hub; NAK is broadcast", () => {
  const r = rig();
  r.relay.fromVlink('vl-c', 'spoke-c.test', clientMsg({ chaddr: rfc3456Chaddr(ipv4ToU32('10.200.3.2'), 2), clientId: clientIdFromName('spoke-c.test') }, MessageType.REQUEST, 0x1a2b3c04));
  assert.equal(u32Option(decode(vec('NAK_C_REPLY')), Opt.SERVER_ID), KEA);
  r.relay.fromServer(vec('NAK_C_REPLY'), KEA);
  const out = r.toVlink.at(-1)!;
  assert.equal(out.vlink, 'vl-c');
  assert.equal(out.dst, 0xffffffff);
  const d = decode(out.payload);
  assert.equal(messageType(d), MessageType.NAK);
  assert.equal(u32Option(d, Opt.SERVER_ID), HUB);
  assert.equal(optionData(d, Opt.RELAY_AGENT_INFO), undefined);
});

test('routes: ACK installs a /32 via the vlink once, renewal keeps it, expiry removes it', () => {
  const r = rig();
  r.relay.fromVlink('vl-a', 'spoke-a.test', clientMsg(idA, MessageType.DISCOVER, 1));
  r.relay.fromServer(vec('REQUEST_A_REPLY'), KEA);
  assert.deepEqual(r.routes, [{ action: 'install', vlink: 'vl-a', address: A_ADDR, reason: 'ack' }]);
  r.clock.advance(10000);
  r.relay.fromServer(vec('RENEW_A_REPLY'), KEA);
  assert.equal(r.routes.length, 1, 'a renewal installs nothing new');
  assert.equal(r.toVlink.at(-1)!.dst, A_ADDR, 'renewal ACK unicast to ciaddr');
  r.clock.advance(29999);
  assert.equal(r.routes.length, 1, 'the renewal restarted the 30 s lease');
  r.clock.advance(1);
  assert.deepEqual(r.routes[1], { action: 'remove', vlink: 'vl-a', address: A_ADDR, reason: 'expired' });
  assert.equal(r.relay.routes().size, 0);
});

test('RELEASE removes the route only from the vlink that holds it; a NAK to the holder removes it', () => {
  const r = rig();
  r.relay.fromVlink('vl-a', 'spoke-a.test', clientMsg(idA, MessageType.DISCOVER, 1));
  r.relay.fromServer(vec('REQUEST_A_REPLY'), KEA);
  // Spoke B releases A's address (with A's ids, even): A keeps its route.
  r.relay.fromVlink('vl-b', 'spoke-b.test', clientMsg(idA, MessageType.RELEASE, 2, { ciaddr: A_ADDR, serverId: HUB }));
  r.relay.fromVlink('vl-b', 'spoke-b.test', clientMsg(idA, MessageType.DECLINE, 3, { requested: A_ADDR, serverId: HUB }));
  assert.equal(r.routes.length, 1);
  r.relay.fromVlink('vl-a', 'spoke-a.test', clientMsg(idA, MessageType.RELEASE, 4, { ciaddr: A_ADDR, serverId: HUB }));
  assert.deepEqual(r.routes[1], { action: 'remove', vlink: 'vl-a', address: A_ADDR, reason: 'release' });
  const rel = decode(r.toServer.at(-1)!.payload);
  assert.equal(messageType(rel), MessageType.RELEASE);
  assert.equal(rel.ciaddr, A_ADDR);
  assert.equal(subOption(relayAgentInfo(rel), RelaySub.CIRCUIT_ID)?.toString(), 'vl-a');
  // ACK again, then a NAK for the same client on that vlink.
  r.relay.fromServer(vec('REQUEST_A_REPLY'), KEA);
  const nak = decode(vec('NAK_C_REPLY'));
  const nakA = Dhcp.encode({ ...nak, chaddr: idA.chaddr, options: nak.options.map((o) => (o.code === Opt.CLIENT_ID ? { code: o.code, data: idA.clientId } : o.code === Opt.RELAY_AGENT_INFO ? { code: o.code, data: encodeRelayAgentInfo([{ code: 1, data: Buffer.from('vl-a') }, { code: 2, data: Buffer.from('spoke-a.test') }]) } : o)) });
  r.relay.fromServer(nakA, KEA);
  assert.deepEqual(r.routes.slice(2), [
    { action: 'install', vlink: 'vl-a', address: A_ADDR, reason: 'ack' },
    { action: 'remove', vlink: 'vl-a', address: A_ADDR, reason: 'nak' },
  ]);
});

test("spoofing: a client on vl-c with B's chaddr and client-id is relayed with vl-c and vl-c's IKE identity", () => {
  const r = rig();
  const spoof = buildClientMessage(idB, MessageType.DISCOVER, { xid: 9, secs: 0 });
  r.relay.fromVlink('vl-c', 'spoke-c.test', spoof);
  const ri = relayAgentInfo(decode(r.toServer[0]!.payload));
  assert.equal(subOption(ri, RelaySub.CIRCUIT_ID)?.toString(), 'vl-c');
  assert.equal(subOption(ri, RelaySub.REMOTE_ID)?.toString(), 'spoke-c.test');
  // Its own option 82 naming vl-b is not accepted from a client at all.
  const forged = decode(spoof);
  forged.options.push({ code: Opt.RELAY_AGENT_INFO, data: encodeRelayAgentInfo([{ code: 1, data: Buffer.from('vl-b') }]) });
  r.relay.fromVlink('vl-c', 'spoke-c.test', Dhcp.encode(forged));
  assert.equal(r.toServer.length, 1);
  assert.equal(r.relay.drops.get('client-option-82'), 1);
  // A reply naming vl-b's circuit but with another remote-id (the vlink now has a new peer) is not delivered.
  r.relay.fromVlink('vl-b', 'spoke-b-new.test', clientMsg(idB, MessageType.DISCOVER, 1));
  r.relay.fromServer(vec('DISCOVER_B_REPLY'), KEA);
  assert.equal(r.toVlink.length, 0);
  assert.equal(r.relay.drops.get('remote-id-mismatch'), 1);
});

test('rate limit per vlink: a flood from one vlink is cut at the burst, the others still pass, tokens refill', () => {
  const r = rig({ burst: 5, perSecond: 1 });
  for (let i = 0; i < 100; i++) r.relay.fromVlink('vl-x', 'x', clientMsg(idA, MessageType.DISCOVER, i));
  assert.equal(r.toServer.length, 5);
  assert.equal(r.relay.drops.get('rate-limited'), 95);
  r.relay.fromVlink('vl-b', 'spoke-b.test', clientMsg(idB, MessageType.DISCOVER, 1));
  assert.equal(r.toServer.length, 6);
  r.clock.advance(2000);
  for (let i = 0; i < 5; i++) r.relay.fromVlink('vl-x', 'x', clientMsg(idA, MessageType.DISCOVER, i));
  assert.equal(r.toServer.length, 8, 'two tokens after 2 s');
});

test('bad packets from either side are counted under their reasons, nothing is sent', () => {
  const r = rig();
  const good = clientMsg(idA, MessageType.DISCOVER, 1);
  const g = decode(good);
  r.relay.fromVlink('vl-a', 'a', Buffer.from('nonsense'));
  r.relay.fromVlink('vl-a', 'a', Buffer.concat([good.subarray(0, 236), Buffer.alloc(4)]));
  r.relay.fromVlink('vl-a', 'a', Dhcp.encode({ ...g, op: 2 }));
  r.relay.fromVlink('vl-a', 'a', Dhcp.encode({ ...g, options: [] }));
  r.relay.fromVlink('vl-a', 'a', Dhcp.encode({ ...g, hops: 16 }));
  r.relay.fromVlink('vl-a', 'a', Dhcp.encode({ ...g, giaddr: 5 }));
  r.relay.fromVlink('vl-a', 'a', Dhcp.encode({ ...g, options: [...g.options, { code: 224, data: Buffer.alloc(255) }, { code: 225, data: Buffer.alloc(255) }] }));
  assert.equal(r.toServer.length, 0);
  const kea = vec('DISCOVER_A_REPLY');
  const k = decode(kea);
  r.relay.fromServer(kea, ipv4ToU32('10.99.0.77'));
  r.relay.fromServer(Buffer.alloc(100), KEA);
  r.relay.fromServer(Dhcp.encode({ ...k, op: 1 }), KEA);
  r.relay.fromServer(Dhcp.encode({ ...k, giaddr: KEA }), KEA);
  r.relay.fromServer(Dhcp.encode({ ...k, options: k.options.filter((o) => o.code !== Opt.RELAY_AGENT_INFO) }), KEA);
  r.relay.fromServer(kea, KEA); // vl-a's peer authenticated as 'a', not as the echoed spoke-a.test
  r.relay.fromServer(Dhcp.encode({ ...k, options: k.options.map((o) => (o.code === Opt.RELAY_AGENT_INFO ? { code: o.code, data: encodeRelayAgentInfo([{ code: 1, data: Buffer.from('vl-zz') }]) } : o)) }), KEA);
  r.relay.fromServer(Dhcp.encode({ ...k, options: k.options.map((o) => (o.code === Opt.MESSAGE_TYPE ? { code: o.code, data: Buffer.from([MessageType.INFORM]) } : o)) }), KEA);
  r.relay.fromServer(Dhcp.encode({ ...k, options: k.options.map((o) => (o.code === Opt.SERVER_ID ? { code: o.code, data: u32Data(KEA) } : o)) }), KEA);
  assert.deepEqual(Object.fromEntries(r.relay.drops), {
    'malformed:truncated': 2, 'malformed:bad-cookie': 1, 'not-request': 1, 'no-message-type': 1, 'too-many-hops': 1, 'giaddr-set': 1, 'too-big': 1,
    'unknown-server': 1, 'not-reply': 1, 'wrong-giaddr': 1, 'no-relay-info': 1, 'remote-id-mismatch': 3, 'unknown-circuit': 1,
  });
  assert.equal(r.toVlink.length, 0);
  // With the right identity the unexpected type and the foreign server id get their own reasons.
  const r2 = rig();
  r2.relay.fromVlink('vl-a', 'spoke-a.test', good);
  r2.relay.fromServer(Dhcp.encode({ ...k, options: k.options.map((o) => (o.code === Opt.MESSAGE_TYPE ? { code: o.code, data: Buffer.from([MessageType.INFORM]) } : o)) }), KEA);
  r2.relay.fromServer(Dhcp.encode({ ...k, options: k.options.map((o) => (o.code === Opt.SERVER_ID ? { code: o.code, data: u32Data(KEA) } : o)) }), KEA);
  assert.deepEqual(Object.fromEntries(r2.relay.drops), { 'unexpected-type': 1, 'server-id-not-hub': 1 });
});

test('rfc5107 mode: sub-option 11 = hub on requests, option 54 rewritten to the hub on replies', () => {
  const r = rig(undefined, 'rfc5107');
  r.relay.fromVlink('vl-a', 'spoke-a.test', clientMsg(idA, MessageType.DISCOVER, 1));
  assert.deepEqual(subOption(relayAgentInfo(decode(r.toServer[0]!.payload)), RelaySub.SERVER_ID_OVERRIDE), u32Data(HUB));
  const k = decode(vec('DISCOVER_A_REPLY'));
  r.relay.fromServer(Dhcp.encode({ ...k, options: k.options.map((o) => (o.code === Opt.SERVER_ID ? { code: o.code, data: u32Data(KEA) } : o)) }), KEA);
  assert.equal(u32Option(decode(r.toVlink[0]!.payload), Opt.SERVER_ID), HUB);
  assert.ok(!(Dhcp.decode(r.toVlink[0]!.payload) instanceof DhcpMalformed));
});
