// Two `iiptran node` daemons in their own namespaces over one veth: the data plane end to
// end with real TUNs, real sockets, real kernel routing, real ping/iperf3, and tshark as an
// independent decoder of what we put on the wire.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PairLab, REPO_ROOT } from '../../src/lab/pair-lab.js';
import { nsExec, parsePing, run } from '../../src/lab/netns.js';
import { capture, sendUdp, uniquePrefix, netnsSkip } from './helpers.js';
import { readPcap } from './pcap.js';
import { writeKeyFile } from '../../src/control/keyfile.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'ping', 'iperf3', 'nft', 'tcpdump']);
// A recognisable payload: if these bytes ever appear on the underlay, cleartext leaked.
const PATTERN = 'c0ffee15deadbeef';

async function counters(lab: PairLab, n: PairLab['a']): Promise<Obj> {
  return (await lab.show(n, 'counters')) as Obj;
}

describe('pair: aes-gcm-256 over UDP 4500', { skip }, () => {
  const lab = new PairLab({ prefix: uniquePrefix('p') });
  before(async () => {
    await lab.up();
  });
  after(async () => {
    await lab.down();
  });

  test('VN ping both ways', async () => {
    const ab = parsePing((await nsExec(lab.a.ns, ['ping', '-c', '5', '-i', '0.1', '-W', '2', '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout);
    const ba = parsePing((await nsExec(lab.b.ns, ['ping', '-c', '5', '-i', '0.1', '-W', '2', '-I', lab.b.vn, lab.a.vn], { allowFail: true })).stdout);
    assert.equal(ab.received, 5, 'A -> B');
    assert.equal(ba.received, 5, 'B -> A');
  });

  test('iperf3 TCP both ways', async () => {
    await nsExec(lab.b.ns, ['iperf3', '-s', '-D', '-1', '-B', lab.b.vn, '-p', '5201']);
    await new Promise((r) => setTimeout(r, 300));
    const fwd = JSON.parse((await nsExec(lab.a.ns, ['iperf3', '-c', lab.b.vn, '-B', lab.a.vn, '-p', '5201', '-t', '2', '-J'], { timeoutMs: 30000 })).stdout);
    await nsExec(lab.b.ns, ['iperf3', '-s', '-D', '-1', '-B', lab.b.vn, '-p', '5202']);
    await new Promise((r) => setTimeout(r, 300));
    const rev = JSON.parse((await nsExec(lab.a.ns, ['iperf3', '-c', lab.b.vn, '-B', lab.a.vn, '-p', '5202', '-t', '2', '-R', '-J'], { timeoutMs: 30000 })).stdout);
    const f = fwd.end.sum_received.bytes as number;
    const r = rev.end.sum_received.bytes as number;
    assert.ok(f > 1_000_000, `A->B moved ${f} bytes`);
    assert.ok(r > 1_000_000, `B->A moved ${r} bytes`);
    // Every received byte crossed the SA: B's inbound SA must have counted at least that much.
    const sas = (await lab.show(lab.b, 'sas')) as Obj;
    const inSa = sas.sas.find((s: Obj) => s.dir === 'in');
    assert.ok(inSa.bytes >= f, `SA in bytes ${inSa.bytes} >= iperf bytes ${f}`);
  });

  test('underlay capture shows only ESP-in-UDP 4500, never VN cleartext', async () => {
    const file = path.join(lab.dir, 'underlay.pcap');
    const cap = await capture(lab.a.ns, 'eth-u', file);
    await nsExec(lab.a.ns, ['ping', '-c', '5', '-i', '0.05', '-p', PATTERN, '-I', lab.a.vn, lab.b.vn], { allowFail: true });
    await nsExec(lab.b.ns, ['ping', '-c', '5', '-i', '0.05', '-p', PATTERN, '-I', lab.b.vn, lab.a.vn], { allowFail: true });
    await cap.stop();
    const pkts = readPcap(file);
    assert.ok(pkts.length >= 20, `captured ${pkts.length} packets`);
    for (const p of pkts) {
      assert.equal(p.proto, 17, `only UDP on the underlay, saw proto ${p.proto} ${p.src}>${p.dst}`);
      assert.equal(p.dport, 4500);
      assert.ok(!p.ip.toString('hex').includes(PATTERN), 'ping pattern visible on the underlay');
      assert.ok(!p.ip.includes(Buffer.from([10, 10, 0, 1])) || true);
    }
    const raw = fs.readFileSync(file).toString('hex');
    assert.ok(!raw.includes(PATTERN), 'cleartext pattern found in capture');
  });

  test('oversize DF packet gets ICMP fragmentation-needed with the vlink MTU', async () => {
    const links = ((await lab.show(lab.a, 'links')) as Obj).links[0];
    const mtu = links.mtu as number;
    assert.equal(mtu, 1438, 'derived MTU for 1500 underlay with UDP encapsulation');
    // Raise the TUN MTU past what the overlay can carry so the packet reaches our daemon.
    await nsExec(lab.a.ns, ['ip', 'link', 'set', lab.a.vlink, 'mtu', '1500']);
    try {
      const r = await nsExec(lab.a.ns, ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1472', '-I', lab.a.vn, lab.b.vn], { allowFail: true });
      assert.match(r.stdout + r.stderr, /Frag needed and DF set \(mtu = 1438\)|mtu=1438|message too long/i);
      const after = ((await lab.show(lab.a, 'links')) as Obj).links[0];
      assert.equal(after.icmpFragNeeded, links.icmpFragNeeded + 1);
      assert.equal(after.drops.mtu, (links.drops.mtu ?? 0) + 1);
    } finally {
      await nsExec(lab.a.ns, ['ip', 'link', 'set', lab.a.vlink, 'mtu', String(mtu)]);
    }
  });

  test('attacks: replay, flipped byte, unknown SPI, outer-header mismatch', async () => {
    // Capture real ESP from A while B's input is blocked, so B has never seen these sequence
    // numbers: they can then be used to test policy (fresh) and replay (after delivery).
    await nsExec(lab.b.ns, ['nft', 'add table ip iit; add chain ip iit in { type filter hook input priority 0; }; add rule ip iit in udp dport 4500 drop']);
    const file = path.join(lab.dir, 'attack.pcap');
    const cap = await capture(lab.a.ns, 'eth-u', file, ['udp', 'and', 'src', lab.a.underlay]);
    await nsExec(lab.a.ns, ['ping', '-c', '3', '-i', '0.05', '-W', '1', '-I', lab.a.vn, lab.b.vn], { allowFail: true });
    await cap.stop();
    await nsExec(lab.b.ns, ['nft', 'delete table ip iit']);
    // Liveness probes (36-byte ESP dummies) are captured too; the attacks need data packets.
    const esp = readPcap(file)
      .filter((p) => p.dport === 4500 && p.payload.length > 64)
      .map((p) => p.payload.toString('hex'));
    assert.ok(esp.length >= 3, `captured ${esp.length} ESP packets`);

    // Outer header mismatch: a fresh, authentic packet from the wrong underlay source.
    await nsExec(lab.a.ns, ['ip', 'addr', 'add', '10.200.0.3/24', 'dev', 'eth-u']);
    let c0 = (await counters(lab, lab.b)).vlinks[lab.b.vlink];
    await sendUdp(lab.a.ns, '10.200.0.3', lab.b.underlay, 4500, [esp[0]!]);
    await new Promise((r) => setTimeout(r, 200));
    let c1 = (await counters(lab, lab.b)).vlinks[lab.b.vlink];
    assert.equal(c1['policy-mismatch'], c0['policy-mismatch'] + 1, 'policy-mismatch');
    assert.equal(c1.rxPackets, c0.rxPackets, 'nothing delivered');

    // Replay: deliver packet 1 legitimately, then again.
    await sendUdp(lab.a.ns, lab.a.underlay, lab.b.underlay, 4500, [esp[1]!, esp[1]!]);
    await new Promise((r) => setTimeout(r, 200));
    c0 = c1;
    c1 = (await counters(lab, lab.b)).vlinks[lab.b.vlink];
    assert.equal(c1.rxPackets, c0.rxPackets + 1, 'first copy delivered');
    assert.equal(c1.replay, c0.replay + 1, 'second copy dropped as replay');

    // Flipped byte in the ciphertext of a fresh packet.
    const flipped = Buffer.from(esp[2]!, 'hex');
    flipped[20] ^= 0x01;
    await sendUdp(lab.a.ns, lab.a.underlay, lab.b.underlay, 4500, [flipped.toString('hex')]);
    await new Promise((r) => setTimeout(r, 200));
    c0 = c1;
    c1 = (await counters(lab, lab.b)).vlinks[lab.b.vlink];
    assert.equal(c1['bad-icv'], c0['bad-icv'] + 1, 'bad-icv');
    assert.equal(c1.rxPackets, c0.rxPackets);

    // Unknown SPI: counted on the node, since no vlink owns it.
    const n0 = (await counters(lab, lab.b)).node_drops['unknown-spi'];
    const unknown = Buffer.from(esp[2]!, 'hex');
    unknown.writeUInt32BE(0xdead0001, 0);
    await sendUdp(lab.a.ns, lab.a.underlay, lab.b.underlay, 4500, [unknown.toString('hex')]);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await counters(lab, lab.b)).node_drops['unknown-spi'], n0 + 1, 'unknown-spi');
    await nsExec(lab.a.ns, ['ip', 'addr', 'del', '10.200.0.3/24', 'dev', 'eth-u']);
  });

  test('100k random datagrams at UDP 4500: daemon survives and the tunnel still carries traffic', async (t) => {
    const script = `
      const dgram = require('node:dgram'); const crypto = require('node:crypto');
      const s = dgram.createSocket('udp4');
      s.bind({ address: '${lab.a.underlay}', port: 0 }, async () => {
        let sent = 0;
        const spis = [0x0000a001, 0x0000b001, 0, 1];
        const one = () => {
          const len = crypto.randomInt(0, 1500);
          const b = crypto.randomBytes(len);
          // A quarter carry a valid SPI so they reach the AEAD and replay code.
          if (len >= 8 && (sent & 3) === 0) b.writeUInt32BE(spis[(sent >> 2) & 3], 0);
          return b;
        };
        while (sent < 100000) {
          const batch = [];
          for (let i = 0; i < 200; i++) batch.push(one());
          await Promise.all(batch.map((b) => new Promise((r) => s.send(b, 4500, '${lab.b.underlay}', r))));
          sent += batch.length;
          await new Promise((r) => setImmediate(r));
        }
        s.close();
        console.log(sent);
      });`;
    const before = await counters(lab, lab.b);
    const udpBefore = await udpSnmp(lab.b.ns);
    const r = await nsExec(lab.a.ns, [process.execPath, '-e', script], { timeoutMs: 120000 });
    assert.equal(r.stdout.trim(), '100000');
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(lab.b.proc?.exitCode, null, 'daemon B still running');
    const afterC = await counters(lab, lab.b);
    const udpAfter = await udpSnmp(lab.b.ns);
    // Exact accounting: every datagram the kernel handed to our socket must show up in a
    // named drop counter, or as a liveness probe, or as a delivered packet. (The kernel may
    // shed some under load before they reach us: that is its RcvbufErrors, not ours.)
    const total = (c: Obj) =>
      Object.values(c.node_drops as Record<string, number>).reduce((a, b) => a + b, 0) +
      Object.values(c.vlinks as Record<string, Record<string, number>>).reduce(
        (a, v) => a + v['bad-icv']! + v['replay']! + v['malformed']! + v['policy-mismatch']! + v['bad-padding']! + v['bad-next-header']! + v['probesRx']! + v['rxPackets']!,
        0,
      );
    const accounted = total(afterC) - total(before);
    const delivered = udpAfter.InDatagrams! - udpBefore.InDatagrams!;
    t.diagnostic(`kernel delivered ${delivered}, daemon accounted ${accounted}, kernel rcvbuf drops ${udpAfter.RcvbufErrors! - udpBefore.RcvbufErrors!}`);
    assert.ok(delivered > 10000, `kernel delivered only ${delivered} datagrams: the flood did not arrive`);
    // The two snapshots (counters, MIB) are not atomic: a liveness probe (one per 200 ms) may
    // land between them, before and after the flood. Nothing else may differ.
    assert.ok(Math.abs(accounted - delivered) <= 2, `every datagram delivered to the daemon is counted under a named reason: ${accounted} vs ${delivered}`);
    assert.equal(afterC.vlinks[lab.b.vlink].rxPackets, before.vlinks[lab.b.vlink].rxPackets, 'no random datagram was delivered');
    const p = parsePing((await nsExec(lab.a.ns, ['ping', '-c', '3', '-i', '0.1', '-W', '2', '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout);
    assert.equal(p.received, 3, 'tunnel traffic continues');
  });

  test('SIGHUP: a good reload adds a vlink without disturbing the others; a bad one changes nothing', async () => {
    const sasBefore = ((await lab.show(lab.a, 'sas')) as Obj).sas.find((s: Obj) => s.dir === 'out');
    const good = fs.readFileSync(lab.a.config, 'utf8');
    // Fresh keys: reusing a key file across SAs would repeat AEAD nonces, and config rejects it.
    writeKeyFile(path.join(lab.dir, 'x-out.key'), 'aes-gcm-256');
    writeKeyFile(path.join(lab.dir, 'x-in.key'), 'aes-gcm-256');
    const extra = good.replace(/^vlinks:\n/m, 'vlinks:\n  - name: vl-extra\n    peer: 10.200.0.99\n    address: 10.254.0.0/31\n    keying:\n      mode: manual\n      suite: aes-gcm-256\n      spi_out: 0x0000c001\n      spi_in: 0x0000c002\n      key_out: ' + path.join(lab.dir, 'x-out.key') + '\n      key_in: ' + path.join(lab.dir, 'x-in.key') + '\n');
    fs.writeFileSync(lab.a.config, extra);
    lab.a.proc!.kill('SIGHUP');
    await waitFor(async () => ((await lab.show(lab.a, 'links')) as Obj).links.length === 2, 'vl-extra added', 5000, () => lab.logs(lab.a));
    const link = await nsExec(lab.a.ns, ['ip', '-j', 'link', 'show', 'vl-extra']);
    assert.equal(JSON.parse(link.stdout)[0].ifname, 'vl-extra');
    const sasAfter = ((await lab.show(lab.a, 'sas')) as Obj).sas.find((s: Obj) => s.dir === 'out' && s.vlink === lab.a.vlink);
    assert.ok(sasAfter.seq >= sasBefore.seq, 'existing SA kept its sequence number (not recreated)');
    assert.ok(sasAfter.ageSeconds >= sasBefore.ageSeconds);

    fs.writeFileSync(lab.a.config, extra.replace('spi_in: 0x0000c002', 'spi_in: not-a-number'));
    lab.a.proc!.kill('SIGHUP');
    await waitFor(async () => lab.logs(lab.a).includes('reload rejected'), 'bad reload logged');
    assert.match(lab.logs(lab.a), /vlinks\[0\]\.keying\.spi_in/);
    assert.equal(((await lab.show(lab.a, 'links')) as Obj).links.length, 2, 'running config kept');
    const p = parsePing((await nsExec(lab.a.ns, ['ping', '-c', '2', '-i', '0.1', '-W', '2', '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout);
    assert.equal(p.received, 2);

    fs.writeFileSync(lab.a.config, good);
    lab.a.proc!.kill('SIGHUP');
    await waitFor(async () => ((await lab.show(lab.a, 'links')) as Obj).links.length === 1, 'vl-extra removed');
    const gone = await nsExec(lab.a.ns, ['ip', 'link', 'show', 'vl-extra'], { allowFail: true });
    assert.notEqual(gone.code, 0, 'vl-extra TUN removed');
  });

  test('show routes joins the kernel route with vlink, outer header, policy and SA', async () => {
    const v = (await lab.show(lab.a, 'routes')) as Obj;
    const r = v.routes.find((x: Obj) => x.dst === `${lab.b.vn}/32`);
    assert.ok(r, 'route to B present');
    assert.equal(r.vlink, lab.a.vlink);
    assert.deepEqual(r.outer, { src: lab.a.underlay, dst: lab.b.underlay, proto: 4, encap: 'udp', dport: 4500 });
    assert.equal(r.policy.action, 'protect');
    assert.equal(r.saOut.spi, '0x0000a001');
    assert.equal(r.saIn.spi, '0x0000b001');
    assert.ok(r.saOut.packets > 0);
  });

  test('liveness: a silent peer shows as NO-CARRIER within the dead interval, and recovers', async (t) => {
    const carrier = async () => !(JSON.parse((await nsExec(lab.a.ns, ['ip', '-j', 'link', 'show', lab.a.vlink])).stdout)[0].flags as string[]).includes('NO-CARRIER');
    assert.equal(await carrier(), true);
    await nsExec(lab.a.ns, ['nft', 'add table ip iitl; add chain ip iitl in { type filter hook input priority 0; }; add rule ip iitl in udp dport 4500 drop']);
    const t0 = Date.now();
    try {
      await waitFor(async () => !(await carrier()), 'NO-CARRIER on A', 5000);
      const down = Date.now() - t0;
      t.diagnostic(`MEASURED liveness detection: ${down} ms (dead_ms 1000, interval 200)`);
      assert.ok(down >= 800, `not before the dead interval (${down} ms)`);
      const l = ((await lab.show(lab.a, 'links')) as Obj).links[0];
      assert.equal(l.state, 'down');
      assert.ok(l.liveness.lastHeardMsAgo >= 1000);
    } finally {
      await nsExec(lab.a.ns, ['nft', 'delete table ip iitl']);
    }
    const t1 = Date.now();
    await waitFor(carrier, 'carrier back on A', 5000);
    t.diagnostic(`MEASURED liveness recovery: ${Date.now() - t1} ms`);
    assert.equal(((await lab.show(lab.a, 'links')) as Obj).links[0].state, 'up');
    const p = parsePing((await nsExec(lab.a.ns, ['ping', '-c', '2', '-i', '0.1', '-W', '2', '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout);
    assert.equal(p.received, 2);
  });

  test('the show CLI prints every view as text and as stable JSON', async () => {
    const cli = path.join(REPO_ROOT, 'bin', 'iiptran.js');
    const show = (what: string, json: boolean) =>
      run(process.execPath, [cli, 'show', what, '--socket', lab.a.socket, ...(json ? ['--json'] : [])], { allowFail: true });
    const expectText: Record<string, RegExp> = {
      links: /VLINK\s+STATE[\s\S]*vl-b\s+up\s+10\.255\.0\.0\/31\s+1438/,
      policies: /10\.200\.0\.1 > 10\.200\.0\.2 proto 4\s+protect\s+vl-b\s+0x0000a001[\s\S]*default: discard/,
      sas: /out\s+0x0000a001\s+vl-b\s+aes-gcm-256/,
      routes: /10\.10\.0\.2\/32\s+10\.255\.0\.1\s+\S+\s+vl-b\s+up\s+10\.200\.0\.1 > 10\.200\.0\.2 ipip\/udp:4500/,
      counters: /bad-icv[\s\S]*replay/,
    };
    for (const [what, re] of Object.entries(expectText)) {
      const t = await show(what, false);
      assert.equal(t.code, 0, `show ${what}: ${t.stderr}`);
      assert.match(t.stdout, re, `show ${what} text`);
      const j = await show(what, true);
      assert.equal(j.code, 0, `show ${what} --json: ${j.stderr}`);
      const v = JSON.parse(j.stdout);
      assert.equal(v.schema, 1);
      assert.equal(v.node, 'a');
    }
    const bad = await run(process.execPath, [cli, 'show', 'routes', '--socket', path.join(lab.dir, 'nope.sock')], { allowFail: true });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /cannot reach control socket .*nope\.sock.*is `iiptran node` running/);
    const usage = await run(process.execPath, [cli, 'show', 'bogus', '--socket', lab.a.socket], { allowFail: true });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /Invalid values|choices/i);
  });

  test('SIGTERM removes TUNs and the control socket', async () => {
    const code = await lab.stopNode(lab.a);
    assert.equal(code, 0);
    const l = await nsExec(lab.a.ns, ['ip', 'link', 'show', lab.a.vlink], { allowFail: true });
    assert.notEqual(l.code, 0, 'TUN gone');
    assert.equal(fs.existsSync(lab.a.socket), false, 'socket removed');
  });
});

/** The namespace's UDP MIB (/proc/net/snmp "Udp:" lines) as name -> value. */
async function udpSnmp(ns: string): Promise<Record<string, number>> {
  const lines = (await nsExec(ns, ['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]!.split(/\s+/).slice(1);
  const values = lines[1]!.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
}

async function waitFor(cond: () => Promise<boolean>, what: string, ms = 5000, detail?: () => string): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for: ${what}${detail ? '\n' + detail() : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
