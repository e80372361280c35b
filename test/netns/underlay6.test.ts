// Two real daemons over an IPv6-only underlay (issue #10): ESP in UDP 4500 over IPv6 and raw ESP
// as IPv6 next header 50, MTUs derived for the 40-byte outer header, tshark decrypting the ESP
// over IPv6 and finding the inner packets, the attacks (replay, flipped byte, unknown SPI, wrong
// outer source) each moving its counter, and IKEv2 over IPv6 (ID_IPV6_ADDR) with both key logs
// agreeing.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PairLab } from '../../src/lab/pair-lab.js';
import { nsExec, parsePing } from '../../src/lab/netns.js';
import { SUITES } from '../../src/dataplane/aead.js';
import { capture, sendUdp, tshark, uniquePrefix, netnsSkip } from './helpers.js';
import { readPcap } from './pcap.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'ping', 'nft', 'tcpdump', 'tshark']);
const PATTERN = 'c0ffee15deadbeef';

function keyHex(file: string): string {
  return fs.readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).join('').replace(/\s|0x/g, '');
}

for (const encap of ['udp', 'esp'] as const) {
  describe(`IPv6 underlay, manual keys, encap ${encap}`, { skip }, () => {
    const lab = new PairLab({ prefix: uniquePrefix(`u6${encap[0]}`), encap, underlay6: true, suite: 'aes-gcm-256' });
    before(async () => {
      await lab.up();
    });
    after(async () => {
      await lab.down();
    });

    test('VN ping both ways; the vlink MTU accounts for the 40-byte IPv6 outer header', async () => {
      const ab = parsePing((await nsExec(lab.a.ns, ['ping', '-c', '5', '-i', '0.1', '-W', '2', '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout);
      const ba = parsePing((await nsExec(lab.b.ns, ['ping', '-c', '5', '-i', '0.1', '-W', '2', '-I', lab.b.vn, lab.a.vn], { allowFail: true })).stdout);
      assert.equal(ab.received, 5, 'A -> B');
      assert.equal(ba.received, 5, 'B -> A');
      const l = ((await lab.show(lab.a, 'links')) as Obj).links[0];
      assert.equal(l.mtu, encap === 'udp' ? 1418 : 1426);
      assert.deepEqual(l.overhead.outerHeaders, encap === 'udp' ? 48 : 40);
      assert.deepEqual([l.outer.src, l.outer.dst], [lab.a.underlay, lab.b.underlay]);
      // The largest inner packet the MTU allows crosses unfragmented (ping -M do).
      const big = parsePing((await nsExec(lab.a.ns, ['ping', '-c', '2', '-M', 'do', '-s', String(l.mtu - 28), '-W', '2', '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout);
      assert.equal(big.received, 2, `a ${l.mtu}-byte inner packet fits`);
    });

    test('the underlay carries only IPv6 ESP, tshark decrypts it and finds the inner ICMP', async () => {
      const pcap = path.join(lab.dir, `u6-${encap}.pcap`);
      const cap = await capture(lab.a.ns, 'eth-u', pcap, ['ip6']);
      await nsExec(lab.a.ns, ['ping', '-c', '4', '-i', '0.05', '-p', PATTERN, '-I', lab.a.vn, lab.b.vn]);
      await cap.stop();
      // Neighbour discovery (ICMPv6, 58) and MLD reports (behind Hop-by-Hop, 0) are the link's own.
      const pkts = readPcap(pcap).filter((p) => p.proto !== 58 && p.proto !== 0);
      assert.ok(pkts.length >= 8, `captured ${pkts.length}`);
      for (const p of pkts) {
        assert.equal(p.proto, encap === 'udp' ? 17 : 50, `next header ${p.proto}`);
        if (encap === 'udp') assert.equal(p.dport, 4500);
        assert.ok(!p.ip.toString('hex').includes(PATTERN), 'VN cleartext on the underlay');
      }
      const conf = path.join(lab.dir, `ws-${encap}`);
      fs.mkdirSync(conf);
      const name = SUITES['aes-gcm-256'].tsharkName!;
      const row = (src: string, dst: string, spi: string, key: string) => `"IPv6","${src}","${dst}","${spi}","${name}","0x${key}","NULL",""`;
      fs.writeFileSync(path.join(conf, 'esp_sa'), [
        row(lab.a.underlay, lab.b.underlay, '0x0000a001', keyHex(path.join(lab.dir, 'a-to-b.key'))),
        row(lab.b.underlay, lab.a.underlay, '0x0000b001', keyHex(path.join(lab.dir, 'b-to-a.key'))),
      ].join('\n') + '\n');
      const out = await tshark(['-r', pcap, '-o', 'esp.enable_encryption_decode:TRUE', '-o', 'esp.enable_authentication_check:TRUE', '-Y', 'esp',
        '-T', 'fields', '-E', 'separator=|', '-e', 'ipv6.src', '-e', 'esp.spi', '-e', 'esp.icv_good', '-e', 'esp.protocol', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'icmp.type', '-e', 'esp.decrypted_data'], { WIRESHARK_CONFIG_DIR: conf });
      const rows = out.trim().split('\n').map((l) => l.split('|')).filter((r) => r[7] !== '0102023b');
      assert.equal(rows.length, 8, `4 requests + 4 replies: ${out}`);
      for (const [src6, , good, nh, src, dst, icmp] of rows) {
        assert.ok([lab.a.underlay, lab.b.underlay].includes(src6!), `outer IPv6 source ${src6}`);
        assert.equal(good, '1', 'tshark verified the ICV');
        assert.equal(Number(nh), 4, 'ESP next header 4: an IPv4 VN packet inside outer IPv6');
        assert.ok((src === lab.a.vn && dst === lab.b.vn && icmp === '8') || (src === lab.b.vn && dst === lab.a.vn && icmp === '0'), `${src} > ${dst} icmp ${icmp}`);
      }
    });

    if (encap === 'udp') {
      test('attacks over IPv6: wrong outer source, replay, flipped byte, unknown SPI, each counted', async () => {
        const counters = async () => ((await lab.show(lab.b, 'counters')) as Obj);
        const table = 'add table ip6 iit; add chain ip6 iit in { type filter hook input priority 0; }; add rule ip6 iit in udp dport 4500 drop';
        await nsExec(lab.b.ns, ['nft', table]);
        const file = path.join(lab.dir, 'attack6.pcap');
        const cap = await capture(lab.a.ns, 'eth-u', file, ['udp', 'and', 'src', lab.a.underlay]);
        await nsExec(lab.a.ns, ['ping', '-c', '3', '-i', '0.05', '-W', '1', '-I', lab.a.vn, lab.b.vn], { allowFail: true });
        await cap.stop();
        await nsExec(lab.b.ns, ['nft', 'delete table ip6 iit']);
        const esp = readPcap(file).filter((p) => p.dport === 4500 && p.payload.length > 64).map((p) => p.payload.toString('hex'));
        assert.ok(esp.length >= 3, `captured ${esp.length} ESP packets`);

        const other = 'fd00:200::3';
        await nsExec(lab.a.ns, ['ip', 'addr', 'add', `${other}/64`, 'dev', 'eth-u', 'nodad']);
        let c0 = (await counters()).vlinks[lab.b.vlink];
        await sendUdp(lab.a.ns, other, lab.b.underlay, 4500, [esp[0]!]);
        await new Promise((r) => setTimeout(r, 200));
        let c1 = (await counters()).vlinks[lab.b.vlink];
        assert.equal(c1['policy-mismatch'], c0['policy-mismatch'] + 1, 'policy-mismatch: authentic, from the wrong IPv6 source');
        assert.equal(c1.rxPackets, c0.rxPackets);

        await sendUdp(lab.a.ns, lab.a.underlay, lab.b.underlay, 4500, [esp[1]!, esp[1]!]);
        await new Promise((r) => setTimeout(r, 200));
        c0 = c1;
        c1 = (await counters()).vlinks[lab.b.vlink];
        assert.equal(c1.rxPackets, c0.rxPackets + 1, 'first copy delivered');
        assert.equal(c1.replay, c0.replay + 1, 'second copy dropped as replay');

        const flipped = Buffer.from(esp[2]!, 'hex');
        flipped[20]! ^= 0x01;
        await sendUdp(lab.a.ns, lab.a.underlay, lab.b.underlay, 4500, [flipped.toString('hex')]);
        await new Promise((r) => setTimeout(r, 200));
        c0 = c1;
        c1 = (await counters()).vlinks[lab.b.vlink];
        assert.equal(c1['bad-icv'], c0['bad-icv'] + 1, 'bad-icv');

        const n0 = (await counters()).node_drops['unknown-spi'];
        const unknown = Buffer.from(esp[2]!, 'hex');
        unknown.writeUInt32BE(0xdead0001, 0);
        await sendUdp(lab.a.ns, lab.a.underlay, lab.b.underlay, 4500, [unknown.toString('hex')]);
        await new Promise((r) => setTimeout(r, 200));
        assert.equal((await counters()).node_drops['unknown-spi'], n0 + 1, 'unknown-spi');
        await nsExec(lab.a.ns, ['ip', 'addr', 'del', `${other}/64`, 'dev', 'eth-u']);
        // The genuine traffic still flows.
        assert.equal(parsePing((await nsExec(lab.a.ns, ['ping', '-c', '3', '-i', '0.1', '-W', '2', '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout).received, 3);
      });
    }
  });
}

describe('IPv6 underlay, IKEv2 over IPv6', { skip }, () => {
  const lab = new PairLab({ prefix: uniquePrefix('u6i'), keying: 'ikev2', underlay6: true, ikeKeyLog: true, ikeYaml: ['ike_proposals: [aes256gcm16-prfsha256-x25519]', 'esp_proposals: [aes128gcm16]'] });
  before(async () => {
    await lab.up();
  });
  after(async () => {
    await lab.down();
  });

  test('ESTABLISHED with IPv6 identities and peers; IKE on UDP 500 over IPv6; key logs mirror each other', async () => {
    const [va, vb] = [(await lab.show(lab.a, 'ike')) as Obj, (await lab.show(lab.b, 'ike')) as Obj];
    const [sa, sb] = [va.peers[0].sas[0], vb.peers[0].sas[0]];
    assert.equal(va.peers[0].state, 'ESTABLISHED');
    assert.deepEqual([sa.localId, sa.remoteId, sa.peer], [lab.a.underlay, lab.b.underlay, lab.b.underlay]);
    assert.deepEqual([sb.localId, sb.remoteId, sb.peer], [lab.b.underlay, lab.a.underlay, lab.a.underlay]);
    assert.equal(sa.nat?.detected ?? false, false, 'no NAT detected over IPv6');
    const logs = [lab.a.keyLogFile, lab.b.keyLogFile].map((f) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Obj));
    const ike = logs.map((l) => l.find((r) => r['type'] === 'ike')!);
    for (const k of ['skeyseed', 'skD', 'skEi', 'skEr', 'skPi', 'skPr']) if (ike[0]![k] !== undefined) assert.equal(ike[0]![k], ike[1]![k], k);
    assert.equal(parsePing((await nsExec(lab.a.ns, ['ping', '-c', '3', '-i', '0.1', '-W', '2', '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout).received, 3);
  });

  test('a capture shows IKE over IPv6 UDP 500 and then only ESP-in-UDP over IPv6', async () => {
    const pcap = path.join(lab.dir, 'ike6.pcap');
    const cap = await capture(lab.a.ns, 'eth-u', pcap, ['ip6', 'and', 'udp']);
    // A fresh IKE SA: restart b, which re-keys through INITIAL_CONTACT or DPD.
    await lab.killAndRestart(lab.b);
    await lab.waitReachable(30000);
    await cap.stop();
    const pkts = readPcap(pcap);
    assert.ok(pkts.some((p) => p.dport === 500), 'IKE_SA_INIT on UDP 500 over IPv6');
    assert.ok(pkts.some((p) => p.dport === 4500 && p.payload.length > 64), 'ESP in UDP 4500 over IPv6');
    const out = await tshark(['-r', pcap, '-Y', 'isakmp', '-T', 'fields', '-e', 'ipv6.src', '-e', 'isakmp.exchangetype']);
    assert.match(out, /fd00:200::[12]\t34/, 'tshark reads IKE_SA_INIT (34) over IPv6');
  });
});
