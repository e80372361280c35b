// Two `iiptran node` daemons keyed by IKEv2 in their own namespaces, and the failures an operator
// meets: either daemon SIGKILLed and started again (the SAs must come back within a bound, and the
// VN ping with them), and a wrong PSK (fails clearly on both sides, nothing crosses in clear).

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PairLab } from '../../src/lab/pair-lab.js';
import { nsExec, parsePing } from '../../src/lab/netns.js';
import { capture, uniquePrefix, netnsSkip } from './helpers.js';
import { readPcap } from './pcap.js';
import { renderIke } from '../../src/tools/inspector.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'ping', 'tcpdump']);

/** With dpd_interval_s 2 and the default retransmissions (15.5 s) the slowest path is about 20 s. */
const BOUND_MS = 30000;
const PATTERN = 'c0ffee15dead';

async function pingOnce(lab: PairLab): Promise<boolean> {
  const r = await nsExec(lab.a.ns, ['ping', '-c', '1', '-W', '1', '-I', lab.a.vn, lab.b.vn], { allowFail: true });
  return r.code === 0;
}

/** Time from `t0` until a VN ping crosses again, polled. */
async function untilPing(lab: PairLab, t0: number): Promise<number> {
  for (;;) {
    if (await pingOnce(lab)) return Date.now() - t0;
    if (Date.now() - t0 > BOUND_MS + 10000) {
      throw new Error(`no VN ping ${BOUND_MS + 10000} ms after the kill\nnode a:\n${lab.logs(lab.a).slice(-6000)}\nnode b:\n${lab.logs(lab.b).slice(-6000)}`);
    }
  }
}

async function ikePeer(lab: PairLab, n: PairLab['a']): Promise<Obj> {
  return ((await lab.show(n, 'ike')) as Obj).peers[0];
}

describe('IKEv2 pair: a daemon killed with SIGKILL and restarted', { skip }, () => {
  const lab = new PairLab({
    prefix: uniquePrefix('ir'),
    keying: 'ikev2',
    ikeYaml: ['ike_proposals: [aes256gcm16-prfsha256-x25519]', 'esp_proposals: [aes256gcm16]', 'dpd_interval_s: 2'],
  });
  before(async () => {
    await lab.up();
  });
  after(async () => {
    await lab.down();
  });

  test('responder killed: the initiator notices (DPD, INVALID_IKE_SPI), re-keys, VN ping works again', async () => {
    const old = (await ikePeer(lab, lab.a)).sas[0].spiI as string;
    const t0 = Date.now();
    await lab.killAndRestart(lab.b);
    const restartMs = Date.now() - t0;
    const ms = await untilPing(lab, t0);
    console.log(`MEASURED restart (responder killed) re-established in ${ms} ms (daemon back after ${restartMs} ms)`);
    assert.ok(ms < BOUND_MS, `re-established in ${ms} ms`);
    const pa = await ikePeer(lab, lab.a);
    const pb = await ikePeer(lab, lab.b);
    assert.equal(pa.state, 'ESTABLISHED');
    assert.equal(pb.state, 'ESTABLISHED');
    assert.equal(pa.sas.length, 1, 'the stale IKE SA is gone from the survivor');
    assert.notEqual(pa.sas[0].spiI, old, 'a new IKE SA');
    assert.equal(pa.sas[0].spiI, pb.sas[0].spiI);
    const la = lab.logs(lab.a);
    assert.match(la, /INVALID_IKE_SPI\): it probably restarted|is dead: no answer to \d+ DPD liveness checks/, 'the survivor says why');
    assert.match(lab.logs(lab.b), /answered INVALID_IKE_SPI/, 'the restarted responder told the survivor');
    const ab = parsePing((await nsExec(lab.a.ns, ['ping', '-c', '5', '-i', '0.1', '-W', '2', '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout);
    assert.equal(ab.received, 5);
  });

  test('initiator killed: it re-initiates with INITIAL_CONTACT, the responder drops the stale SA at once', async () => {
    const old = (await ikePeer(lab, lab.b)).sas[0].spiI as string;
    const t0 = Date.now();
    await lab.killAndRestart(lab.a);
    const restartMs = Date.now() - t0;
    const ms = await untilPing(lab, t0);
    console.log(`MEASURED restart (initiator killed) re-established in ${ms} ms (daemon back after ${restartMs} ms)`);
    assert.ok(ms < BOUND_MS, `re-established in ${ms} ms`);
    const pb = await ikePeer(lab, lab.b);
    assert.equal(pb.state, 'ESTABLISHED');
    assert.equal(pb.sas.length, 1, 'only the new IKE SA on the survivor');
    assert.notEqual(pb.sas[0].spiI, old);
    assert.match(lab.logs(lab.b), /restarted \(INITIAL_CONTACT\): deleting 1 stale IKE SA/);
    const ba = parsePing((await nsExec(lab.b.ns, ['ping', '-c', '5', '-i', '0.1', '-W', '2', '-I', lab.b.vn, lab.a.vn], { allowFail: true })).stdout);
    assert.equal(ba.received, 5);
  });

  test('responder down for longer: DPD declares it dead, carrier off, show ike shows the backoff; it comes back', async () => {
    const t0 = Date.now();
    await lab.stopNode(lab.b, 'SIGKILL');
    let dead: Obj | null = null;
    while (dead === null) {
      const p = await ikePeer(lab, lab.a);
      if (p.state !== 'ESTABLISHED' && /is dead: no answer to 5 DPD liveness checks/.test(p.lastError ?? '')) dead = p;
      else if (Date.now() - t0 > 30000) throw new Error(`DPD did not declare b dead: ${JSON.stringify(p)}\n${lab.logs(lab.a).slice(-4000)}`);
      else await new Promise((r) => setTimeout(r, 200));
    }
    const deadMs = Date.now() - t0;
    // 2 s of silence, then 0.5 + 1 + 2 + 4 + 8 s of unanswered checks.
    console.log(`MEASURED DPD declared the killed responder dead after ${deadMs} ms`);
    assert.ok(deadMs >= 2000 + 15500 - 500 && deadMs < 2000 + 500 + 15500 + 2000, `dead after ${deadMs} ms`);
    assert.equal(((await lab.show(lab.a, 'sas')) as Obj).sas.length, 0, 'CHILD_SAs out of the data plane');
    const link = (await nsExec(lab.a.ns, ['ip', 'link', 'show', lab.a.vlink])).stdout;
    assert.match(link, /NO-CARRIER/, 'carrier off');
    const text = renderIke((await lab.show(lab.a, 'ike')) as Obj);
    assert.match(text, /WAITING \(retry in \d+ s, attempt \d+\)|CONNECTING \(attempt \d+\)/, text);
    console.log(`show ike on a while b is down:\n${text}`);
    assert.equal(await pingOnce(lab), false);
    const t1 = Date.now();
    await lab.startNode(lab.b);
    await lab.addVnRoute(lab.b);
    const ms = await untilPing(lab, t1);
    console.log(`MEASURED re-established ${ms} ms after the dead responder came back (${Date.now() - t0} ms after the kill)`);
    // The initiator's attempt in flight retransmits at most 8 s later; a new one follows a backoff.
    assert.ok(ms < BOUND_MS, `re-established in ${ms} ms`);
    assert.match(((await lab.show(lab.a, 'ike')) as Obj).peers[0].state, /ESTABLISHED/);
  });
});

describe('IKEv2 pair with mismatched PSKs', { skip }, () => {
  const lab = new PairLab({
    prefix: uniquePrefix('iw'),
    keying: 'ikev2',
    mismatchedPsk: true,
    waitReachable: false,
    // Carrier stays up, so every VN packet reaches the daemon and is counted as it drops.
    liveness: 'off',
    ikeYaml: ['ike_proposals: [aes256gcm16-prfsha256-x25519]', 'esp_proposals: [aes256gcm16]'],
  });
  before(async () => {
    await lab.up();
  });
  after(async () => {
    await lab.down();
  });

  test('both sides say authentication failed; show ike has no ESTABLISHED SA; ping drops as no-sa; only IKE on the underlay', async () => {
    const deadline = Date.now() + 15000;
    const failedA = /IKE_AUTH with 10\.200\.0\.2: peer says AUTHENTICATION_FAILED \(PSK mismatch\?/;
    const failedB = /IKE_AUTH from 10\.200\.0\.1: authentication failed \(PSK mismatch\?\); answered AUTHENTICATION_FAILED/;
    while (!(failedA.test(lab.logs(lab.a)) && failedB.test(lab.logs(lab.b)))) {
      if (Date.now() > deadline) throw new Error(`no authentication failure logged\nnode a:\n${lab.logs(lab.a)}\nnode b:\n${lab.logs(lab.b)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const file = path.join(lab.dir, 'underlay.pcap');
    const cap = await capture(lab.a.ns, 'eth-u', file);
    const ping = parsePing((await nsExec(lab.a.ns, ['ping', '-c', '5', '-i', '0.2', '-W', '1', '-p', PATTERN, '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout);
    await nsExec(lab.b.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '1', '-p', PATTERN, '-I', lab.b.vn, lab.a.vn], { allowFail: true });
    // Long enough for the initiator's next attempt (1 s, then 2 s backoff) to be in the capture.
    await new Promise((r) => setTimeout(r, 2500));
    await cap.stop();
    assert.equal(ping.received, 0, 'no VN ping crosses');
    for (const n of [lab.a, lab.b]) {
      const v = (await lab.show(n, 'ike')) as Obj;
      const p = v.peers[0];
      assert.notEqual(p.state, 'ESTABLISHED', `${n.name}: ${p.state}`);
      assert.ok(!(p.sas as Obj[]).some((s) => s.state === 'ESTABLISHED'), `${n.name} has no ESTABLISHED IKE SA`);
      if (n === lab.a) {
        assert.match(p.lastError ?? '', /AUTHENTICATION_FAILED/);
        console.log(`show ike on a:\n${renderIke(v)}`);
      }
      assert.equal(((await lab.show(n, 'sas')) as Obj).sas.length, 0, `${n.name}: no SA in the data plane`);
    }
    const dropsA = ((await lab.show(lab.a, 'links')) as Obj).links[0].drops as Record<string, number>;
    assert.ok((dropsA['no-sa'] ?? 0) >= 5, `a dropped the pings as no-sa: ${JSON.stringify(dropsA)}`);
    const pkts = readPcap(file);
    assert.ok(pkts.length > 0, 'IKE retries were captured');
    for (const q of pkts) {
      const ike = q.proto === 17 && (q.dport === 500 || q.dport === 4500);
      assert.ok(ike || q.proto === 50, `only IKE/ESP on the underlay, saw proto ${q.proto} ${q.src}>${q.dst} dport ${q.dport}`);
      assert.ok(!q.ip.toString('hex').includes(PATTERN), 'ping payload on the underlay');
    }
    assert.ok(pkts.some((q) => q.dport === 500), 'the IKE retries are there');
    assert.ok(!fs.readFileSync(file).toString('hex').includes(PATTERN), 'cleartext pattern in the capture');
  });
});
