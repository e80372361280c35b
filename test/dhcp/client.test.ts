// The RFC 2131 state machine over a fake clock and an in-memory transport: every transition is
// driven by real encoded messages, and what goes out (addresses, fields, options) is decoded
// and checked byte-level, never assumed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { Dhcp, MessageType, Opt, messageType, optionData, u32Option, type DhcpRepr } from '../../src/wire/dhcp/index.js';
import { BROADCAST, DhcpClient, type ClientEvent } from '../../src/dhcp/client.js';
import { FakeClock } from '../../src/fake-clock.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { JsonLeaseStore, MemoryLeaseStore } from '../../src/dhcp/lease-store.js';
import { FakeServer } from './fake-server.js';

const HUB = ipv4ToU32('10.99.0.1');
const POOL = ipv4ToU32('10.10.5.10');
const UNDERLAY = ipv4ToU32('10.200.1.2');

interface Sent { repr: DhcpRepr; type: string; src: number; dst: number; at: number }

function rig(o: { lease?: number; t1?: number; t2?: number; store?: MemoryLeaseStore } = {}) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const server = new FakeServer({ serverId: HUB, poolStart: POOL, lease: o.lease ?? 30, t1: o.t1 ?? 10, t2: o.t2 ?? 20 });
  const sent: Sent[] = [];
  const events: ClientEvent[] = [];
  const trace: string[] = [];
  const queue: Buffer[] = [];
  const store = o.store ?? new MemoryLeaseStore();
  const client = new DhcpClient({
    vlink: 'vl-hub', underlay: UNDERLAY, clientIdName: 'spoke-a.test', store, clock, random: new SeededRandom(7),
    onEvent: (e) => events.push(e), onTrace: (l) => trace.push(`${(clock.now() - t0) / 1000}s ${l}`),
    transport: {
      send(payload, ip) {
        const repr = Dhcp.decode(payload) as DhcpRepr;
        sent.push({ repr, type: ['', 'DISCOVER', '', 'REQUEST', 'DECLINE', '', '', 'RELEASE'][messageType(repr)!]!, src: ip.src, dst: ip.dst, at: clock.now() - t0 });
        const a = server.answer(payload);
        if (a !== null) queue.push(a);
      },
    },
  });
  const t0 = clock.now();
  /** Delivers queued server answers (asynchronously, as the network would) until quiet. */
  const pump = () => {
    while (queue.length > 0) client.receive(queue.shift()!);
  };
  const run = (ms: number) => {
    const step = 100;
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      pump();
    }
  };
  return { clock, server, sent, events, trace, client, store, pump, run, t0 };
}

function bound(r: ReturnType<typeof rig>): void {
  r.client.start();
  r.run(1500);
  assert.equal(r.client.state, 'BOUND');
}

test('full DORA: RFC 3456 fields on every message, lease with mask, server, T1, T2 and expiry', () => {
  const r = rig();
  r.client.start();
  r.run(1500);
  assert.deepEqual(r.sent.map((s) => s.type), ['DISCOVER', 'REQUEST']);
  for (const s of r.sent) {
    assert.equal(s.repr.htype, 31);
    assert.equal(s.repr.hlen, 7);
    assert.deepEqual([...s.repr.chaddr.subarray(0, 6)], [0x40, 0, 10, 200, 1, 2]);
    assert.equal(s.repr.giaddr, 0);
    assert.equal(s.repr.ciaddr, 0);
    assert.equal(s.src, 0);
    assert.equal(s.dst, BROADCAST);
    assert.deepEqual(optionData(s.repr, Opt.CLIENT_ID), Buffer.from('\0spoke-a.test'));
  }
  assert.equal(r.sent[1]!.repr.xid, r.sent[0]!.repr.xid);
  assert.equal(u32Option(r.sent[1]!.repr, Opt.REQUESTED_IP), POOL);
  assert.equal(u32Option(r.sent[1]!.repr, Opt.SERVER_ID), HUB);
  assert.equal(r.client.state, 'BOUND');
  assert.equal(r.events.length, 1);
  const e = r.events[0]!;
  assert.ok(e.type === 'acquired' && e.via === 'discover');
  assert.equal(e.lease.address, POOL);
  assert.equal(e.lease.mask, 0xffff0000);
  assert.equal(e.lease.server, HUB);
  assert.deepEqual([e.lease.leaseTime, e.lease.t1, e.lease.t2], [30, 10, 20]);
  assert.equal(e.lease.expiresAt - e.lease.startedAt, 30000);
  assert.equal(e.lease.t1At - e.lease.startedAt, 10000);
  assert.equal(r.store.state?.lease?.address, POOL);
  // The chaddr octet is persisted from the first run on.
  assert.equal(r.store.state?.octet, r.client.identity.chaddr[6]);
});

test('RENEWING at T1: unicast from the leased address to the server id (the hub), ACK renews', () => {
  const r = rig();
  bound(r);
  const start = (r.events[0] as { lease: { startedAt: number } }).lease.startedAt - r.t0;
  r.run(start + 10000 - 1 - 1500);
  assert.equal(r.sent.length, 2, 'nothing before T1');
  r.run(200);
  const renew = r.sent[2]!;
  assert.equal(renew.type, 'REQUEST');
  assert.equal(renew.at, start + 10000);
  assert.equal(renew.src, POOL);
  assert.equal(renew.dst, HUB);
  assert.equal(renew.repr.ciaddr, POOL);
  assert.equal(u32Option(renew.repr, Opt.REQUESTED_IP), undefined);
  assert.equal(u32Option(renew.repr, Opt.SERVER_ID), undefined);
  assert.equal(renew.repr.giaddr, 0);
  const e = r.events[1]!;
  assert.ok(e.type === 'renewed' && e.via === 'renew');
  assert.equal(e.lease.address, POOL);
  assert.equal(e.lease.startedAt - r.t0, start + 10000);
  // The next renewal is 10 s after this one.
  r.run(10000);
  assert.equal(r.sent.filter((s) => s.type === 'REQUEST' && s.dst === HUB).length, 2);
  assert.equal(r.client.state, 'BOUND');
});

test('REBINDING at T2 when the server does not answer the renewal: broadcast, ACK renews', () => {
  const r = rig();
  bound(r);
  r.server.silent = true;
  r.run(15000);
  assert.equal(r.client.state, 'RENEWING');
  r.server.silent = false;
  r.run(6000);
  const rebind = r.sent.find((s) => s.dst === BROADCAST && s.repr.ciaddr === POOL)!;
  assert.ok(rebind, 'a broadcast REQUEST with ciaddr');
  assert.equal(rebind.src, POOL);
  assert.equal(rebind.type, 'REQUEST');
  const e = r.events.at(-1)!;
  assert.ok(e.type === 'renewed' && e.via === 'rebind');
  assert.equal(r.client.state, 'BOUND');
});

test('lease expiry with the server gone: lease lost, store cleared, DISCOVER again', () => {
  const r = rig();
  bound(r);
  r.server.silent = true;
  const expiresAt = (r.events[0] as { lease: { expiresAt: number } }).lease.expiresAt;
  r.run(expiresAt - r.clock.now() - 50);
  assert.equal(r.events.length, 1);
  assert.equal(r.client.state, 'REBINDING');
  r.run(100);
  const lost = r.events.at(-1)!;
  assert.deepEqual(lost, { type: 'lost', address: POOL, reason: 'expired' });
  assert.equal(r.store.state?.lease, null);
  assert.equal(r.sent.at(-1)!.type, 'DISCOVER');
  assert.equal(r.client.state, 'SELECTING');
});

test('INIT-REBOOT from the stored lease: REQUEST with 50, no 54, ciaddr 0; ACK gives the same address', () => {
  const a = rig();
  bound(a);
  a.client.stop({ release: false });
  assert.deepEqual(a.events.at(-1), { type: 'lost', address: POOL, reason: 'stopped' });
  assert.equal(a.store.state?.lease?.address, POOL);
  const b = rig({ store: a.store });
  b.server.leases.set(Buffer.from('\0spoke-a.test').toString('hex'), POOL);
  b.client.start();
  assert.equal(b.client.state, 'REBOOTING');
  const req = b.sent[0]!;
  assert.equal(req.type, 'REQUEST');
  assert.equal(req.repr.ciaddr, 0);
  assert.equal(u32Option(req.repr, Opt.REQUESTED_IP), POOL);
  assert.equal(u32Option(req.repr, Opt.SERVER_ID), undefined);
  assert.equal(req.dst, BROADCAST);
  assert.deepEqual(b.client.identity.chaddr, a.client.identity.chaddr, 'the persisted octet gives the same chaddr');
  b.pump();
  const e = b.events[0]!;
  assert.ok(e.type === 'acquired' && e.via === 'init-reboot');
  assert.equal(e.lease.address, POOL);
});

test('INIT-REBOOT answered by NAK: no lease announced, DISCOVER, a fresh lease', () => {
  const store = new MemoryLeaseStore();
  store.save({ octet: 9, lease: { address: ipv4ToU32('10.10.9.9'), mask: 0xffff0000, server: HUB, leaseTime: 30, t1: 10, t2: 20, startedAt: Date.UTC(2026, 0, 1) - 5000 } });
  const r = rig({ store });
  r.client.start();
  r.run(1500);
  assert.deepEqual(r.sent.map((s) => s.type), ['REQUEST', 'DISCOVER', 'REQUEST']);
  assert.equal(r.events.length, 1);
  const e = r.events[0]!;
  assert.ok(e.type === 'acquired' && e.via === 'discover');
  assert.equal(e.lease.address, POOL);
});

test('INIT-REBOOT unanswered (Kea is not authoritative): falls back to DISCOVER after 3 tries; an expired lease goes straight to INIT', () => {
  const store = new MemoryLeaseStore();
  store.save({ octet: 9, lease: { address: ipv4ToU32('10.10.9.9'), mask: 0xffff0000, server: HUB, leaseTime: 30, t1: 10, t2: 20, startedAt: Date.UTC(2026, 0, 1) - 5000 } });
  const r = rig({ store });
  r.server.silent = true;
  r.client.start();
  r.run(4000 + 8000 + 16000 + 3000);
  assert.deepEqual(r.sent.map((s) => s.type), ['REQUEST', 'REQUEST', 'REQUEST', 'DISCOVER']);
  assert.equal(store.state?.lease, null);
  const old = new MemoryLeaseStore();
  old.save({ octet: 9, lease: { address: 1, mask: 0, server: HUB, leaseTime: 30, t1: 10, t2: 20, startedAt: Date.UTC(2026, 0, 1) - 31000 } });
  const x = rig({ store: old });
  x.client.start();
  assert.equal(x.client.state, 'INIT');
});

test('DECLINE: broadcast with 50 and 54, lease lost, no DISCOVER for 10 s', () => {
  const r = rig();
  bound(r);
  r.client.decline();
  const d = r.sent.at(-1)!;
  assert.equal(d.type, 'DECLINE');
  assert.equal(u32Option(d.repr, Opt.REQUESTED_IP), POOL);
  assert.equal(u32Option(d.repr, Opt.SERVER_ID), HUB);
  assert.equal(d.repr.ciaddr, 0);
  assert.equal(d.dst, BROADCAST);
  assert.deepEqual(r.events.at(-1), { type: 'lost', address: POOL, reason: 'declined' });
  assert.equal(r.store.state?.lease, null);
  const n = r.sent.length;
  r.run(9900);
  assert.equal(r.sent.length, n);
  r.run(200);
  assert.equal(r.sent[n]!.type, 'DISCOVER');
  assert.equal(r.client.state, 'BOUND');
});

test('RELEASE on a clean stop: unicast to the server with ciaddr and 54; no timer left', () => {
  const r = rig();
  bound(r);
  r.client.stop({ release: true });
  const rel = r.sent.at(-1)!;
  assert.equal(rel.type, 'RELEASE');
  assert.equal(rel.repr.ciaddr, POOL);
  assert.equal(rel.src, POOL);
  assert.equal(rel.dst, HUB);
  assert.equal(u32Option(rel.repr, Opt.SERVER_ID), HUB);
  assert.deepEqual(r.events.at(-1), { type: 'lost', address: POOL, reason: 'released' });
  assert.equal(r.store.state?.lease, null);
  assert.equal(r.clock.pending, 0);
  assert.equal(r.client.state, 'STOPPED');
});

test('DISCOVER backoff 4, 8, 16, 32, 64, 64 s, each within ±1 s', () => {
  const r = rig();
  r.server.silent = true;
  r.client.start();
  r.run(1000 + 4000 + 8000 + 16000 + 32000 + 64000 + 64000 + 1100);
  const times = r.sent.map((s) => s.at);
  assert.equal(times.length, 7);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  [4000, 8000, 16000, 32000, 64000, 64000].forEach((g, i) => assert.ok(Math.abs(gaps[i]! - g) <= 1000, `gap ${i}: ${gaps[i]}`));
  assert.ok(r.sent.every((s) => s.type === 'DISCOVER'));
});

test('replies that are not ours are counted under a reason and change nothing', () => {
  const r = rig();
  r.client.start();
  r.clock.advance(1000);
  const offer = Dhcp.decode(r.server.answer(Dhcp.encode(r.sent[0]!.repr))!) as DhcpRepr;
  r.client.receive(Buffer.from('garbage'));
  r.client.receive(Dhcp.encode({ ...offer, xid: offer.xid ^ 1 }));
  r.client.receive(Dhcp.encode({ ...offer, chaddr: Buffer.from([0x40, 0, 1, 2, 3, 4, 5]) }));
  r.client.receive(Dhcp.encode({ ...offer, options: offer.options.map((o) => (o.code === Opt.CLIENT_ID ? { code: o.code, data: Buffer.from('\0someone') } : o)) }));
  r.client.receive(Dhcp.encode({ ...offer, op: 1 }));
  r.client.receive(Dhcp.encode({ ...offer, options: offer.options.map((o) => (o.code === Opt.MESSAGE_TYPE ? { code: o.code, data: Buffer.from([MessageType.ACK]) } : o)) }));
  r.client.receive(Dhcp.encode({ ...offer, options: offer.options.filter((o) => o.code !== Opt.SERVER_ID) }));
  assert.equal(r.client.state, 'SELECTING');
  assert.deepEqual(Object.fromEntries(r.client.drops), { malformed: 1, 'wrong-xid': 1, 'not-for-us': 1, 'wrong-client-id': 1, 'not-reply': 1, 'unexpected-type': 1, 'bad-offer': 1 });
});

test('JsonLeaseStore: atomic round trip, 0600, garbage treated as absent with a reason', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-lease-'));
  try {
    const f = path.join(dir, 'sub', 'lease.json');
    const s = new JsonLeaseStore(f);
    assert.equal(s.load(), null);
    assert.equal(s.problem, null);
    const lease = { address: POOL, mask: 0xffff0000, server: HUB, leaseTime: 30, t1: 10, t2: 20, startedAt: 1767225600000 };
    s.save({ octet: 200, lease });
    assert.deepEqual(s.load(), { octet: 200, lease });
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    assert.match(fs.readFileSync(f, 'utf8'), /"address": "10.10.5.10"/);
    fs.writeFileSync(f, '{"octet": 300}');
    assert.equal(s.load(), null);
    assert.match(s.problem!, /not a valid DHCP lease file/);
    fs.writeFileSync(f, '{"octet": 3, "lease": {"address": "10.1.1.1"}}');
    assert.equal(s.load(), null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
