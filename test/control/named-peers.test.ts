// Named peers through whole OverlayNodes over in-memory IKE, with a fake DNS server whose zone
// the test edits: resolution before IKE, the dnssec policy, a silent resolver, the responder's
// DNS proof for an address it did not expect, a make-before-break move, and manual keying.
// (Signed answers and real servers: test/dns/* and the lab tests.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { OverlayNode } from '../../src/control/node.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { dnsView, ikeView, linksView } from '../../src/control/inspect.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { FakeTransport } from '../../src/dns/transport-fake.js';
import { Message, nameToString, parseRR } from '../../src/wire/dns/index.js';
import { formatAddr } from '../../src/wire/addr.js';
import { fakeNodeIo, ikeWire, manualKeying, writePairKeys } from './fake-node-io.js';
import { until } from '../helpers/until.js';

const log = pino({ level: 'silent' });

/** A DNS server playing overlay.test: A records by name, NXDOMAIN otherwise, or silence. */
class FakeZone {
  readonly a = new Map<string, string[]>();
  silent = false;
  ttl = 60;
  queries = 0;
  readonly transport = new FakeTransport((q) => {
    this.queries++;
    if (this.silent) return null;
    const d = Message.decode(q);
    if (!d.ok) return null;
    const qn = nameToString(d.message.questions[0]!.name).replace(/\.$/, '').toLowerCase();
    const addrs = this.a.get(qn);
    return [Message.encode({
      ...d.message, qr: true, aa: true, rcode: addrs === undefined ? 3 : 0, additional: [],
      answers: (addrs ?? []).map((x) => parseRR(`${qn}. ${this.ttl} IN A ${x}`)),
    })];
  });
}

const ANCHOR_ELSEWHERE = 'elsewhere.test. 3600 IN DS 12345 13 2 0000000000000000000000000000000000000000000000000000000000000000';

function dnsSection(mode: 'off' | 'require' | 'prefer'): string {
  return mode === 'off'
    ? 'dns: { servers: [192.0.2.53], dnssec: off, timeout_ms: 500 }'
    : `dns: { servers: [192.0.2.53], dnssec: ${mode}, timeout_ms: 500, trust_anchors: ["${ANCHOR_ELSEWHERE}"] }`;
}

interface End {
  me: string;
  addr: string;
  peer: string;
  role: 'initiator' | 'responder';
  localId?: string;
  remoteId?: string;
  dns?: 'off' | 'require' | 'prefer';
}

function ikeYaml(dir: string, e: End): string {
  return `
node: ${e.me}
control_socket: ${dir}/${e.me}.sock
underlay: { address: ${e.addr} }
${e.dns === undefined ? '' : dnsSection(e.dns)}
vlinks:
  - name: vl
    peer: ${e.peer}
    address: 10.255.0.${e.role === 'initiator' ? 0 : 1}/31
    liveness: off
    keying:
      mode: ikev2
      psk_file: ${dir}/psk
      role: ${e.role}
      dpd_interval_s: 0
${e.localId === undefined ? '' : `      local_id: ${e.localId}\n`}${e.remoteId === undefined ? '' : `      remote_id: ${e.remoteId}\n`}`;
}

function tmp(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-named-'));
  fs.writeFileSync(path.join(dir, 'psk'), 'a shared secret of some length\n', { mode: 0o600 });
  return dir;
}

/** `tries`: IKE transmissions before giving up; few make a dead address fail fast, more ride out a loaded machine. */
function node(dir: string, e: End, wire: ReturnType<typeof ikeWire>, zone: FakeZone | null, tries = 2): OverlayNode {
  const u = new FakeUnderlay(e.addr, 4500, 'udp', { poison: false });
  const io = fakeNodeIo(u, new Map<string, FakeTun>(), {
    openIkeUdp: wire.open, ikeRetransmit: { initialMs: 100, tries }, ...(zone === null ? {} : { dnsTransport: zone.transport }),
  });
  return new OverlayNode(parseNodeConfig(ikeYaml(dir, e), { baseDir: dir }), io, log);
}

const A = { me: 'a', addr: '192.0.2.1', role: 'initiator' } as const;
const B = { me: 'b', addr: '192.0.2.2', peer: '192.0.2.1', role: 'responder', localId: 'b.overlay.test' } as const;

test('an initiator resolves its named peer before IKE; links, ike and dns views show name, address and verdict', async () => {
  const dir = tmp();
  const zone = new FakeZone();
  zone.a.set('b.overlay.test', ['192.0.2.2']);
  const wire = ikeWire();
  const b = node(dir, B, wire, null);
  const a = node(dir, { ...A, peer: 'b.overlay.test', dns: 'off' }, wire, zone);
  try {
    await b.start();
    await a.start();
    await until('a CHILD_SA', () => a.vlinks.get('vl')!.policy.sa !== null);
    const l = linksView(a).links[0]!;
    assert.equal(l.peerName, 'b.overlay.test');
    assert.equal(l.peer, '192.0.2.2');
    assert.equal(l.outer.dst, '192.0.2.2');
    assert.equal(l.dns!.address, '192.0.2.2');
    assert.deepEqual(l.dns!.addresses, ['192.0.2.2']);
    // dnssec off: no anchor, so the answer is insecure, and used.
    assert.equal(l.dns!.verdict, 'insecure');
    assert.equal(l.dns!.usable, true);
    const ike = ikeView(a).peers[0]!;
    assert.equal(ike.peerName, 'b.overlay.test');
    assert.equal(ike.peer, '192.0.2.2');
    assert.equal(ike.dns!.verdict, 'insecure');
    assert.ok(ike.dns!.resolvedAt !== null && !Number.isNaN(Date.parse(ike.dns!.resolvedAt)));
    // The default remote_id of a named peer is its name.
    assert.equal(ike.sas[0]!.remoteId, 'b.overlay.test');
    const d = dnsView(a);
    assert.equal(d.dnssec, 'off');
    assert.ok(d.cache.some((c) => c.name === 'b.overlay.test.' && c.type === 'A' && c.answers.some((x) => x.includes('192.0.2.2'))), JSON.stringify(d.cache));
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('dnssec require: an insecure answer is unusable, no IKE message leaves, and the vlink says why; prefer uses it', async () => {
  for (const mode of ['require', 'prefer'] as const) {
    const dir = tmp();
    const zone = new FakeZone();
    zone.a.set('b.overlay.test', ['192.0.2.2']);
    const wire = ikeWire();
    let sent = 0;
    const open = wire.open;
    wire.open = async (addr, port, onMessage) => {
      const s = await open(addr, port, onMessage);
      return { ...s, send: (d, to, p) => (sent++, s.send(d, to, p)) };
    };
    const b = node(dir, B, wire, null);
    const a = node(dir, { ...A, peer: 'b.overlay.test', dns: mode }, wire, zone);
    try {
      await b.start();
      await a.start();
      if (mode === 'require') {
        await until('a refusal', () => linksView(a).links[0]!.dns?.lastError != null);
        const l = linksView(a).links[0]!;
        assert.match(l.dns!.lastError!, /^insecure: unusable under dnssec: require \(0 Other: no trust anchor above b\.overlay\.test/);
        assert.equal(l.dns!.usable, false);
        assert.equal(l.peer, '');
        await until('the IKE error', () => ikeView(a).peers[0]!.lastError !== null);
        assert.match(ikeView(a).peers[0]!.lastError!, /cannot resolve b\.overlay\.test: insecure: unusable/);
        assert.equal(sent, 0, 'no IKE message went anywhere');
        assert.equal(a.vlinks.get('vl')!.policy.sa, null);
      } else {
        await until('a CHILD_SA', () => a.vlinks.get('vl')!.policy.sa !== null);
        assert.equal(linksView(a).links[0]!.dns!.verdict, 'insecure');
      }
    } finally {
      await a.stop();
      await b.stop();
    }
  }
});

test('a resolver that never answers: no SA and a clear reason; an SA already up stays up while lookups fail', async () => {
  const dir = tmp();
  const zone = new FakeZone();
  zone.silent = true;
  const wire = ikeWire();
  const b = node(dir, B, wire, null);
  const a = node(dir, { ...A, peer: 'b.overlay.test', dns: 'off' }, wire, zone);
  try {
    await b.start();
    await a.start();
    await until('a DNS failure', () => linksView(a).links[0]!.dns?.lastError != null, 8000);
    assert.match(linksView(a).links[0]!.dns!.lastError!, /^indeterminate: no usable answer \(22 No Reachable Authority/);
    assert.equal(a.vlinks.get('vl')!.policy.sa, null);
    // DNS comes back: the retry finds b, and the SA comes up.
    zone.a.set('b.overlay.test', ['192.0.2.2']);
    zone.ttl = 1;
    zone.silent = false;
    await until('a CHILD_SA', () => a.vlinks.get('vl')!.policy.sa !== null, 15000);
    const spi = a.vlinks.get('vl')!.policy.sa!.spi;
    // Silent again: the background refresh (TTL 1 s) fails, and nothing is torn down.
    zone.silent = true;
    const q0 = zone.queries;
    await until('failed refreshes', () => zone.queries >= q0 + 2 && linksView(a).links[0]!.dns?.lastError != null, 10000);
    assert.equal(a.vlinks.get('vl')!.policy.sa?.spi, spi, 'the CHILD_SA is still the same');
    assert.equal(ikeView(a).peers[0]!.state, 'ESTABLISHED');
    assert.equal(linksView(a).links[0]!.dns!.address, '192.0.2.2', 'still in use');
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('responder: an SA from an address the name does not resolve to is refused; once DNS says so, it is accepted and the vlink moves', async () => {
  const dir = tmp();
  const zone = new FakeZone();
  zone.a.set('b.overlay.test', ['192.0.2.9']);
  const wire = ikeWire();
  // a answers for b.overlay.test, which DNS says is at .9; b really initiates from .2.
  const a = node(dir, { me: 'a', addr: '192.0.2.1', peer: 'b.overlay.test', role: 'responder', dns: 'off' }, wire, zone, 5);
  const b = node(dir, { me: 'b', addr: '192.0.2.2', peer: '192.0.2.1', role: 'initiator', localId: 'b.overlay.test' }, wire, null, 5);
  try {
    await a.start();
    await until('a resolved .9', () => linksView(a).links[0]!.dns?.address === '192.0.2.9');
    await b.start();
    await until('a refusal', () => ikeView(a).peers[0]!.lastError !== null);
    assert.match(ikeView(a).peers[0]!.lastError!, /peer b\.overlay\.test at 192\.0\.2\.2: b\.overlay\.test resolves to 192\.0\.2\.9 \(insecure\), not 192\.0\.2\.2/);
    assert.equal(a.vlinks.get('vl')!.policy.sa, null);
    await until("b hearing AUTHENTICATION_FAILED", () => /AUTHENTICATION_FAILED/.test(ikeView(b).peers[0]!.lastError ?? ''));
    // The zone now says .2: b's next attempt is proven by a fresh lookup and accepted.
    zone.a.set('b.overlay.test', ['192.0.2.2']);
    await until('a CHILD_SA', () => a.vlinks.get('vl')!.policy.sa !== null, 15000);
    const l = linksView(a).links[0]!;
    assert.equal(l.peer, '192.0.2.2');
    assert.equal(l.outer.dst, '192.0.2.2', 'the SPD selector followed');
    assert.equal(l.dns!.address, '192.0.2.2');
    assert.equal(ikeView(a).peers[0]!.peer, '192.0.2.2');
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('a refresh that finds a new address moves the initiator make-before-break: new SA first, then the old one goes', async () => {
  const dir = tmp();
  const zone = new FakeZone();
  zone.a.set('b.overlay.test', ['192.0.2.2']);
  zone.ttl = 2;
  const wire = ikeWire();
  const b = node(dir, B, wire, null);
  const b2 = node(dir, { ...B, me: 'b2', addr: '192.0.2.3' }, wire, null);
  const a = node(dir, { ...A, peer: 'b.overlay.test', dns: 'off' }, wire, zone);
  try {
    await b.start();
    await b2.start();
    await a.start();
    await until('a CHILD_SA with b', () => a.vlinks.get('vl')!.policy.sa !== null);
    const first = a.vlinks.get('vl')!.policy.sa!;
    zone.a.set('b.overlay.test', ['192.0.2.3']);
    await until('a CHILD_SA with b2', () => b2.vlinks.get('vl')!.policy.sa !== null, 10000);
    await until('the old SA retired', () => a.vlinks.get('vl')!.policy.sa !== first && ikeView(a).peers[0]!.sas.length === 1, 5000);
    const l = linksView(a).links[0]!;
    assert.equal(l.peer, '192.0.2.3');
    assert.equal(l.outer.dst, '192.0.2.3');
    assert.equal(ikeView(a).peers[0]!.sas[0]!.peer, '192.0.2.3');
    assert.equal(formatAddr(a.vlinks.get('vl')!.policy.sa!.dst), '192.0.2.3');
    assert.equal(formatAddr(first.dst), '192.0.2.2');
    // The old gateway is told (Delete), not left to find out by DPD (off here).
    await until('b told its SA is gone', () => ikeView(b).peers[0]!.sas.length === 0);
  } finally {
    await a.stop();
    await b.stop();
    await b2.stop();
  }
});

test('with several addresses, an initiator tries them in order: a dead first address moves it to the next', async () => {
  const dir = tmp();
  const zone = new FakeZone();
  // Nothing answers at .9.
  zone.a.set('b.overlay.test', ['192.0.2.9', '192.0.2.2']);
  const wire = ikeWire();
  const b = node(dir, B, wire, null);
  const a = node(dir, { ...A, peer: 'b.overlay.test', dns: 'off' }, wire, zone);
  try {
    await b.start();
    await a.start();
    const errors = new Set<string>();
    await until('a CHILD_SA', () => {
      const e = ikeView(a).peers[0]!.lastError;
      if (e !== null) errors.add(e);
      return a.vlinks.get('vl')!.policy.sa !== null;
    }, 15000);
    assert.ok([...errors].some((e) => /no answer to IKE_SA_INIT from 192\.0\.2\.9/.test(e)), `the failure at .9 was shown: ${[...errors].join(' / ')}`);
    assert.equal(linksView(a).links[0]!.peer, '192.0.2.2');
    assert.deepEqual(linksView(a).links[0]!.dns!.addresses, ['192.0.2.9', '192.0.2.2']);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('manual keying with a named peer: no SA until the name resolves, then SAs, SPD and destination use its address', async () => {
  const dir = tmp();
  writePairKeys(dir, 'aes-gcm-256');
  const zone = new FakeZone();
  zone.silent = true;
  const yaml = `
node: a
control_socket: ${dir}/a.sock
underlay: { address: 192.0.2.1 }
${dnsSection('off')}
vlinks:
  - name: vl
    peer: b.overlay.test
    address: 10.255.0.0/31
    liveness: off
    keying:
${manualKeying('a', 'aes-gcm-256')}
`;
  const u = new FakeUnderlay('192.0.2.1', 4500, 'udp', { poison: false });
  const a = new OverlayNode(parseNodeConfig(yaml, { baseDir: dir }), fakeNodeIo(u, new Map(), { dnsTransport: zone.transport }), log);
  try {
    await a.start();
    const v = a.vlinks.get('vl')!;
    assert.equal(v.policy.sa, null, 'unresolved: no outbound SA, packets drop as no-sa');
    zone.a.set('b.overlay.test', ['192.0.2.2']);
    zone.silent = false;
    await until('the manual SA', () => v.policy.sa !== null, 8000);
    assert.equal(linksView(a).links[0]!.outer.dst, '192.0.2.2');
    assert.equal(linksView(a).links[0]!.peer, '192.0.2.2');
    assert.equal(v.inbound[0]!.src.family === 4 && v.inbound[0]!.src.v4, 0xc0000202, 'the inbound selector names the peer');
  } finally {
    await a.stop();
  }
});

test('reload: peer_resolve once resolves again on reload; a new name moves the vlink; the dns section cannot change', async () => {
  const dir = tmp();
  const zone = new FakeZone();
  zone.a.set('b.overlay.test', ['192.0.2.2']);
  zone.a.set('c.overlay.test', ['192.0.2.3']);
  const wire = ikeWire();
  const b = node(dir, B, wire, null);
  const c = node(dir, { ...B, me: 'c', addr: '192.0.2.3', localId: 'c.overlay.test' }, wire, null);
  const conf = (peer: string, dns: 'off' | 'prefer' = 'off') =>
    parseNodeConfig(ikeYaml(dir, { ...A, peer, dns }).replace('liveness: off', 'liveness: off\n    peer_resolve: once'), { baseDir: dir });
  const u = new FakeUnderlay('192.0.2.1', 4500, 'udp', { poison: false });
  const a = new OverlayNode(conf('b.overlay.test'), fakeNodeIo(u, new Map(), { openIkeUdp: wire.open, ikeRetransmit: { initialMs: 100, tries: 2 }, dnsTransport: zone.transport }), log);
  try {
    await b.start();
    await c.start();
    await a.start();
    await until('a CHILD_SA with b', () => a.vlinks.get('vl')!.policy.sa !== null);
    const q0 = zone.queries;
    const r = await a.reload(conf('b.overlay.test'));
    assert.deepEqual(r.kept, ['vl']);
    await until('a lookup on reload', () => zone.queries > q0);
    await assert.rejects(a.reload(conf('b.overlay.test', 'prefer')), /dns: cannot change on reload/);
    const r2 = await a.reload(conf('c.overlay.test'));
    // remote_id defaults to the name, so it changes with it.
    assert.deepEqual(r2.changes['vl'], ['peer', 'keying.remote_id']);
    await until('a CHILD_SA with c', () => c.vlinks.get('vl')!.policy.sa !== null, 10000);
    const l = linksView(a).links[0]!;
    assert.equal(l.peerName, 'c.overlay.test');
    assert.equal(l.peer, '192.0.2.3');
    assert.equal(ikeView(a).peers[0]!.sas[0]!.remoteId, 'c.overlay.test');
  } finally {
    await a.stop();
    await b.stop();
    await c.stop();
  }
});
