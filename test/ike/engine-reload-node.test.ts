// SIGHUP on IKEv2 vlinks, through the real data plane over fakes: a lifetime change rekeys
// under traffic without losing a packet, a new PSK re-establishes without touching the TUN, and
// a vlink switches from manual keying to IKEv2 in place.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { OverlayNode } from '../../src/control/node.js';
import { parseNodeConfig } from '../../src/control/config.js';
import { FakeTun } from '../../src/io/fake-tun.js';
import { FakeUnderlay } from '../../src/io/fake-underlay.js';
import { Ipv4, IPPROTO_ICMP } from '../../src/wire/ipv4.js';
import { Icmp } from '../../src/wire/icmp.js';
import { ipv4ToU32 } from '../../src/wire/addr.js';
import { fakeNodeIo, ikeWire, pairYaml, manualKeying, writePairKeys } from '../control/fake-node-io.js';

const log = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function keying(dir: string, me: 'a' | 'b', k: { mode: 'ikev2'; psk: string; extra?: string } | { mode: 'manual' }): string {
  if (k.mode === 'manual') return manualKeying(me, 'aes-gcm-256', `${dir}/${me}-out.key`, `${dir}/${me}-in.key`);
  return `      mode: ikev2
      psk_file: ${k.psk}
      esp_proposals: [aes256gcm16]${k.extra ?? ''}`;
}

function yaml(dir: string, me: 'a' | 'b', k: Parameters<typeof keying>[2]): string {
  return pairYaml(dir, me, keying(dir, me, k));
}

function packet(src: string, dst: string, seq: number): Buffer {
  const icmp = Icmp.encode({ kind: 'echo-request', identifier: 7, sequence: seq & 0xffff, data: Buffer.alloc(64, seq & 0xff) });
  return Ipv4.encode({ src: ipv4ToU32(src), dst: ipv4ToU32(dst), protocol: IPPROTO_ICMP, ttl: 64, dontFragment: true, payload: icmp } as never);
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await sleep(5);
  }
}

async function pair(first: 'ikev2' | 'manual') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-ike-reload-'));
  const psk = path.join(dir, 'psk');
  fs.writeFileSync(psk, 'a shared secret of some length\n', { mode: 0o600 });
  writePairKeys(dir, 'aes-gcm-256');
  const [ua, ub] = FakeUnderlay.pair('192.0.2.1', 4500, '192.0.2.2', 4500, 'udp', { poison: false });
  const tuns = new Map<string, FakeTun>();
  const openIkeUdp = ikeWire(2).open;
  const io = (u: FakeUnderlay) => fakeNodeIo(u, tuns, { openIkeUdp });
  const k = first === 'ikev2' ? { mode: 'ikev2' as const, psk } : { mode: 'manual' as const };
  const cfg = (me: 'a' | 'b', kk: Parameters<typeof keying>[2]) => parseNodeConfig(yaml(dir, me, kk), { baseDir: dir });
  const a = new OverlayNode(cfg('a', k), io(ua), log);
  const b = new OverlayNode(cfg('b', k), io(ub), log);
  await b.start();
  await a.start();
  const up = () => a.vlinks.get('vl-b')!.policy.sa !== null && b.vlinks.get('vl-a')!.policy.sa !== null;
  await until(up);
  const close = async () => {
    await a.stop();
    await b.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { dir, psk, a, b, tuns, cfg, up, close };
}

test('IKE: a child lifetime change rekeys under traffic, same TUNs, not one packet lost', async () => {
  const p = await pair('ikev2');
  const [ta, tb] = [p.tuns.get('vl-b')!, p.tuns.get('vl-a')!];
  let sent = 0;
  const pump = setInterval(() => ta.inject([packet('10.10.0.1', '10.10.0.2', ++sent)]), 1);
  try {
    await sleep(30);
    const spi = p.a.vlinks.get('vl-b')!.policy.sa!.spi;
    const r = await p.a.reload(p.cfg('a', { mode: 'ikev2', psk: p.psk, extra: '\n      child_lifetime_s: 1800' }));
    assert.deepEqual([r.updated, r.changes['vl-b']], [['vl-b'], ['keying.child_lifetime_s']]);
    await until(() => p.a.vlinks.get('vl-b')!.policy.sa?.spi !== spi);
    await sleep(50);
    clearInterval(pump);
    await sleep(50);
    console.log(`# MEASURED reload child_lifetime_s under traffic: sent ${sent}, delivered ${tb.written.length}`);
    assert.equal(tb.written.length, sent, 'every packet arrived');
    assert.deepEqual([p.tuns.get('vl-b'), ta.closed], [ta, false]);
  } finally {
    clearInterval(pump);
    await p.close();
  }
});

test('IKE: a new PSK on both ends re-establishes on the same TUNs; traffic resumes', async () => {
  const p = await pair('ikev2');
  try {
    const [ta, tb] = [p.tuns.get('vl-b')!, p.tuns.get('vl-a')!];
    const old = p.a.ike!.sa('vl-b');
    fs.writeFileSync(p.psk + '2', 'the rotated shared secret\n', { mode: 0o600 });
    await p.b.reload(p.cfg('b', { mode: 'ikev2', psk: p.psk + '2' }));
    await p.a.reload(p.cfg('a', { mode: 'ikev2', psk: p.psk + '2' }));
    await until(() => p.up() && p.a.ike!.sa('vl-b') !== old && p.a.ike!.sa('vl-b') !== null);
    ta.inject([packet('10.10.0.1', '10.10.0.2', 1)]);
    await sleep(10);
    assert.equal(tb.written.length, 1);
    assert.deepEqual([p.tuns.get('vl-b'), p.tuns.get('vl-a'), ta.closed, tb.closed], [ta, tb, false, false]);
  } finally {
    await p.close();
  }
});

test('manual keying to IKEv2 in place: the TUN stays, IKE installs the SA', async () => {
  const p = await pair('manual');
  try {
    const ta = p.tuns.get('vl-b')!;
    const manual = p.a.vlinks.get('vl-b')!.policy.sa!;
    await p.b.reload(p.cfg('b', { mode: 'ikev2', psk: p.psk }));
    const r = await p.a.reload(p.cfg('a', { mode: 'ikev2', psk: p.psk }));
    assert.ok(r.changes['vl-b']!.includes('keying.mode'));
    await until(() => p.up() && p.a.vlinks.get('vl-b')!.policy.sa !== manual && p.a.vlinks.get('vl-b')!.policy.sa!.keying === 'ikev2');
    assert.equal(p.a.sad.entries().length, 1, 'the manual inbound SA is gone');
    ta.inject([packet('10.10.0.1', '10.10.0.2', 1)]);
    await sleep(10);
    assert.equal(p.tuns.get('vl-a')!.written.length, 1);
    assert.deepEqual([p.tuns.get('vl-b'), ta.closed, ta.carrier], [ta, false, true]);
  } finally {
    await p.close();
  }
});

test('IKE: a reload applies ike_cookie_threshold to the running engine, and its absence restores the default', async () => {
  const p = await pair('ikev2');
  try {
    const base = p.cfg('a', { mode: 'ikev2', psk: p.psk });
    const stats = () => p.a.ike!.stats;
    assert.equal(stats().cookieMode, false, 'default threshold 10, nothing half-open');
    await p.a.reload({ ...base, ikeCookieThreshold: 0 });
    assert.equal(stats().cookieMode, true, 'threshold 0: cookies at once');
    await p.a.reload(base);
    assert.equal(stats().cookieMode, false);
  } finally {
    await p.close();
  }
});
