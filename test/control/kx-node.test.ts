// KX delegation and IPSECA keys through whole OverlayNodes over in-memory IKE. The DNS is the
// real thing replayed: replies NSD sent for ldns-signed zones (test/dns/kx-vectors.json), with
// the node's clock pinned inside their signatures' window. In those zones site-a.overlay.test
// has exchangers a (10, 10.200.1.1), a2 (20, 10.200.1.12) and a.plain.test (30, unsigned),
// and _500.a / _500.a2 carry IPSECA records for the lab keys `a` (3 1 1) and `a2` (3 1 2).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { OverlayNode } from '../../src/control/node.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { ikeView, linksView } from '../../src/control/inspect.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import type { Clock } from '../../src/clock.js';
import { labKey } from '../dns/lab/keys.js';
import { kxVectors } from '../dns/kx-replay.js';
import { replayTransport } from '../dns/replay.js';
import { pinnedClock } from '../helpers/pinned-clock.js';
import { fakeNodeIo, ikeWire } from './fake-node-io.js';
import { until as waitUntil } from '../helpers/until.js';

const until = (what: string, ok: () => boolean, ms = 15000) => waitUntil(what, ok, ms);
const log = pino({ level: 'silent' });
const X = '10.200.1.20';

function writeKey(dir: string, name: string, key = labKey(name)): { priv: string; pub: string } {
  const priv = path.join(dir, `${name}.key`);
  const pub = path.join(dir, `${name}.pub`);
  fs.writeFileSync(priv, key.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { mode: 0o600 });
  fs.writeFileSync(pub, `-----BEGIN PUBLIC KEY-----\n${key.spki.toString('base64')}\n-----END PUBLIC KEY-----\n`);
  return { priv, pub };
}

const ANCHORS = [kxVectors.anchorDs, kxVectors.reverseDs].map((l) => JSON.stringify(l.replace(/\t/g, ' '))).join(', ');

/** Node x: keys with site-a.overlay.test by KX, its peer's key from IPSECA. */
function xYaml(dir: string, vlink: string): string {
  return `
node: x
control_socket: ${dir}/x.sock
underlay: { address: ${X} }
dns: { servers: [192.0.2.53], trust_anchors: [${ANCHORS}], dnssec: require, timeout_ms: 3000 }
vlinks:
  - name: vl
    address: 10.255.0.0/31
    liveness: off
${vlink}`;
}

const X_INITIATES = `    peer_domain: site-a.overlay.test
    keying: { mode: ikev2, auth: dns, private_key: x.key, role: initiator, local_id: x.test, dpd_interval_s: 0 }
`;

/** A gateway of site-a at `addr` holding lab key `key`, answering x (whose key it is given). */
function gatewayYaml(dir: string, me: string, addr: string, key: string): string {
  return `
node: ${me}
control_socket: ${dir}/${me}.sock
underlay: { address: ${addr} }
vlinks:
  - name: vl
    peer: ${X}
    address: 10.255.0.1/31
    liveness: off
    keying: { mode: ikev2, auth: pubkey, private_key: ${key}.key, peer_public_key: x.pub, role: responder, local_id: site-a.overlay.test, remote_id: x.test, dpd_interval_s: 0 }
`;
}

interface Lab {
  dir: string;
  wire: ReturnType<typeof ikeWire>;
  clock: ReturnType<typeof pinnedClock>;
  nodes: OverlayNode[];
}

function lab(): Lab {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-kx-'));
  writeKey(dir, 'x');
  for (const k of ['a', 'a2', 'impostor']) writeKey(dir, k);
  return { dir, wire: ikeWire(), clock: pinnedClock(kxVectors.capturedAtMs + 1000), nodes: [] };
}

function start(l: Lab, yaml: string, addr: string, withDns: boolean): OverlayNode {
  const u = new FakeUnderlay(addr, 4500, 'udp', { poison: false });
  const io = fakeNodeIo(u, new Map(), {
    openIkeUdp: l.wire.open,
    ikeRetransmit: { initialMs: 100, tries: 3 },
    ...(withDns ? { dnsTransport: replayTransport(undefined, kxVectors), ikeClock: l.clock as Clock } : {}),
  });
  const n = new OverlayNode(parseNodeConfig(yaml, { baseDir: l.dir }), io, log);
  l.nodes.push(n);
  return n;
}

async function stopAll(l: Lab): Promise<void> {
  for (const n of l.nodes) await n.stop();
}

test('peer_domain: x keys with the most preferred exchanger, and only IPSECA vouches for its key', async () => {
  const l = lab();
  try {
    await start(l, gatewayYaml(l.dir, 'a', '10.200.1.1', 'a'), '10.200.1.1', false).start();
    const x = start(l, xYaml(l.dir, X_INITIATES), X, true);
    await x.start();
    await until('x CHILD_SA', () => x.vlinks.get('vl')!.policy.sa !== null);
    const link = linksView(x).links[0]!;
    assert.equal(link.peer, '10.200.1.1');
    assert.equal(link.kx!.domain, 'site-a.overlay.test.');
    assert.equal(link.kx!.inUse, 'a.overlay.test.');
    assert.deepEqual(link.kx!.exchangers.map((e) => [e.preference, e.name, e.usable]), [[10, 'a.overlay.test.', true], [20, 'a2.overlay.test.', true], [30, 'a.plain.test.', false]]);
    assert.match(link.kx!.why, /most preferred exchanger/);
    const peer = ikeView(x).peers[0]!;
    const key = peer.sas[0]!.peerPublicKey!;
    assert.equal(key.source, 'ipseca');
    assert.equal(key.ipseca!.owner, '_500.a.overlay.test.');
    assert.equal(key.ipseca!.verdict, 'secure');
    assert.match(key.ipseca!.record ?? '', /^3 1 1 /);
    assert.equal(peer.sas[0]!.remoteId, 'site-a.overlay.test');
  } finally {
    await stopAll(l);
  }
});

test('peer_domain: a dead preferred exchanger moves x to the next (SHA-512 IPSECA), and x goes back when it returns', async () => {
  const l = lab();
  try {
    await start(l, gatewayYaml(l.dir, 'a2', '10.200.1.12', 'a2'), '10.200.1.12', false).start();
    const x = start(l, xYaml(l.dir, X_INITIATES), X, true);
    await x.start();
    await until('x CHILD_SA via a2', () => x.vlinks.get('vl')!.policy.sa !== null);
    let link = linksView(x).links[0]!;
    assert.equal(link.peer, '10.200.1.12');
    assert.equal(link.kx!.inUse, 'a2.overlay.test.');
    const a = link.kx!.exchangers.find((e) => e.name === 'a.overlay.test.')!;
    assert.ok(a.down, 'a is in backoff');
    assert.match(link.kx!.why, /preference 20 because a\.overlay\.test\. \(10\) is down/);
    assert.equal(ikeView(x).peers[0]!.sas[0]!.peerPublicKey!.ipseca!.owner, '_500.a2.overlay.test.');
    const viaA2 = x.vlinks.get('vl')!.policy.sa!;
    // a returns; once its backoff (10 s) has passed, x tries it, make-before-break.
    await start(l, gatewayYaml(l.dir, 'a', '10.200.1.1', 'a'), '10.200.1.1', false).start();
    l.clock.advance(11000);
    await until('x back on a', () => linksView(x).links[0]!.peer === '10.200.1.1' && x.vlinks.get('vl')!.policy.sa !== viaA2, 20000);
    link = linksView(x).links[0]!;
    assert.equal(link.kx!.inUse, 'a.overlay.test.');
    await until('the a2 SA retired', () => ikeView(x).peers[0]!.sas.length === 1);
    assert.equal(ikeView(x).peers[0]!.sas[0]!.peer, '10.200.1.1');
  } finally {
    await stopAll(l);
  }
});

test('auth: dns: a gateway whose key is not the one its secure IPSECA record names is refused (AUTHENTICATION_FAILED)', async () => {
  const l = lab();
  try {
    // a.overlay.test answers with another key than _500.a names.
    await start(l, gatewayYaml(l.dir, 'a', '10.200.1.1', 'impostor'), '10.200.1.1', false).start();
    const x = start(l, xYaml(l.dir, X_INITIATES), X, true);
    await x.start();
    await until('the refusal', () => /AUTHENTICATION_FAILED/.test(ikeView(x).peers[0]!.lastError ?? ''));
    assert.match(ikeView(x).peers[0]!.lastError!, /^IKE_AUTH from 10\.200\.1\.1: peer presented public key .*: AUTHENTICATION_FAILED: the peer's key .* matches none of the 1 usable secure IPSECA records at _500\.a\.overlay\.test\./);
    assert.equal(x.vlinks.get('vl')!.policy.sa, null);
  } finally {
    await stopAll(l);
  }
});

test('responder: KX delegation proven for an exchanger of the claimed domain, not proven for an impostor', async () => {
  const l = lab();
  try {
    // r answers for site-a.overlay.test, keyed by IPSECA; a2 (an exchanger) and an impostor at
    // 10.200.1.4 (wrong.overlay.test, not an exchanger) both claim site-a.overlay.test.
    const r = start(l, `
node: r
control_socket: ${l.dir}/r.sock
underlay: { address: 10.200.1.2 }
dns: { servers: [192.0.2.53], trust_anchors: [${ANCHORS}], dnssec: require, timeout_ms: 3000 }
vlinks:
  - name: vl
    peer_domain: site-a.overlay.test
    address: 10.255.0.1/31
    liveness: off
    keying: { mode: ikev2, auth: dns, private_key: x.key, role: responder, local_id: x.test, dpd_interval_s: 0 }
`, '10.200.1.2', true);
    await r.start();
    const initiator = (me: string, addr: string, key: string) => `
node: ${me}
control_socket: ${l.dir}/${me}.sock
underlay: { address: ${addr} }
vlinks:
  - name: vl
    peer: 10.200.1.2
    address: 10.255.0.0/31
    liveness: off
    keying: { mode: ikev2, auth: pubkey, private_key: ${key}.key, peer_public_key: x.pub, role: initiator, local_id: site-a.overlay.test, remote_id: x.test, dpd_interval_s: 0 }
`;
    const imp = start(l, initiator('imp', '10.200.1.4', 'a2'), '10.200.1.4', false);
    await imp.start();
    await until('the impostor refused', () => /KX delegation/.test(ikeView(r).peers[0]!.lastError ?? ''));
    assert.match(ikeView(r).peers[0]!.lastError!, /KX delegation for site-a\.overlay\.test not proven: no exchanger of site-a\.overlay\.test\. resolves securely to 10\.200\.1\.4/);
    assert.equal(r.vlinks.get('vl')!.policy.sa, null);
    await imp.stop();
    const a2 = start(l, initiator('a2', '10.200.1.12', 'a2'), '10.200.1.12', false);
    await a2.start();
    await until('r CHILD_SA with a2', () => r.vlinks.get('vl')!.policy.sa !== null);
    const peer = ikeView(r).peers[0]!;
    assert.equal(peer.peer, '10.200.1.12');
    assert.equal(peer.sas[0]!.peerPublicKey!.source, 'ipseca');
    assert.equal(peer.sas[0]!.peerPublicKey!.ipseca!.owner, '_500.a2.overlay.test.', 'the proven exchanger names the IPSECA owner');
  } finally {
    await stopAll(l);
  }
});

test('a bogus IPSECA record means IKE is not started; an unsigned KX domain is refused; both say why', async () => {
  const l = lab();
  let sent = 0;
  const open = l.wire.open;
  l.wire.open = async (addr, port, onMessage) => {
    const s = await open(addr, port, onMessage);
    return { ...s, send: (d, to, p) => (sent++, s.send(d, to, p)) };
  };
  try {
    // b.badsig.test has a secure A record and an IPSECA record whose signature is corrupted.
    const bogus = start(l, xYaml(l.dir, `    peer: b.badsig.test
    keying: { mode: ikev2, auth: dns, private_key: x.key, role: initiator, local_id: x.test, dpd_interval_s: 0 }
`), X, true);
    await bogus.start();
    await until('the refusal', () => /not starting IKE/.test(ikeView(bogus).peers[0]!.lastError ?? ''));
    assert.match(ikeView(bogus).peers[0]!.lastError!, /cannot resolve b\.badsig\.test: not starting IKE: .*_500\.b\.badsig\.test.*bogus/i);
    assert.equal(sent, 0, 'no IKE message left');
    await bogus.stop();
    // site.plain.test's KX records are in an unsigned zone: insecure, which KX never uses.
    const plain = start(l, xYaml(l.dir, `    peer_domain: site.plain.test
    keying: { mode: ikev2, auth: dns, private_key: x.key, role: initiator, local_id: x.test, dpd_interval_s: 0 }
`), X, true);
    await plain.start();
    await until('the refusal', () => /KX for site\.plain\.test/.test(ikeView(plain).peers[0]!.lastError ?? ''));
    assert.match(ikeView(plain).peers[0]!.lastError!, /insecure/);
    assert.equal(linksView(plain).links[0]!.kx!.ok, false);
    assert.equal(sent, 0, 'no IKE message left');
  } finally {
    await stopAll(l);
  }
});
