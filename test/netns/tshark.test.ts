// tshark as an independent decoder: given our keys as an esp_sa table it must decrypt what
// we put on the wire, verify the ICV, and find IPIP (next header 4) carrying the VN ICMP.
// A wrong key must make it report the ICV bad, so the check itself is shown to be able to fail.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PairLab } from '../../src/lab/pair-lab.js';
import { nsExec } from '../../src/lab/netns.js';
import { SUITES } from '../../src/dataplane/aead.js';
import type { Suite } from '../../src/control/config-types.js';
import { capture, tshark, uniquePrefix, netnsSkip } from './helpers.js';

const skip = netnsSkip(['ip', 'ping', 'tcpdump', 'tshark']);
const skipTcp = netnsSkip(['ip', 'tcpdump', 'tshark', 'iperf3']);

function keyHex(file: string): string {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .join('')
    .replace(/\s|0x/g, '');
}

function espSaTable(lab: PairLab, suite: Suite, corrupt = false): string {
  const name = SUITES[suite].tsharkName!;
  const k = (f: string) => {
    const h = keyHex(path.join(lab.dir, f));
    return corrupt ? (h[0] === '0' ? '1' : '0') + h.slice(1) : h;
  };
  return [
    `"IPv4","${lab.a.underlay}","${lab.b.underlay}","0x0000a001","${name}","0x${k('a-to-b.key')}","NULL",""`,
    `"IPv4","${lab.b.underlay}","${lab.a.underlay}","0x0000b001","${name}","0x${k('b-to-a.key')}","NULL",""`,
  ].join('\n') + '\n';
}

for (const [suite, encap] of [
  ['aes-gcm-128', 'udp'],
  ['aes-gcm-256', 'udp'],
  ['aes-gcm-256', 'esp'],
] as const) {
  describe(`tshark decrypts ${suite} over ${encap}`, { skip }, () => {
    test('every packet: ICV correct, next header IPIP, inner ICMP between VN addresses', async () => {
      const lab = new PairLab({ prefix: uniquePrefix('t'), suite, encap });
      try {
        await lab.up();
        const pcap = path.join(lab.dir, 'u.pcap');
        const cap = await capture(lab.a.ns, 'eth-u', pcap, encap === 'udp' ? ['udp', 'port', '4500'] : ['ip', 'proto', '50']);
        await nsExec(lab.a.ns, ['ping', '-c', '4', '-i', '0.05', '-I', lab.a.vn, lab.b.vn]);
        await cap.stop();

        const conf = path.join(lab.dir, 'ws');
        fs.mkdirSync(conf);
        const fields = ['-T', 'fields', '-E', 'separator=|', '-e', 'ip.proto', '-e', 'esp.spi', '-e', 'esp.icv_good', '-e', 'esp.protocol', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'icmp.type', '-e', 'esp.decrypted_data'];
        const decode = async () =>
          (
            await tshark(['-r', pcap, '-o', 'esp.enable_encryption_decode:TRUE', '-o', 'esp.enable_authentication_check:TRUE', '-Y', 'esp', ...fields], {
              WIRESHARK_CONFIG_DIR: conf,
            })
          )
            .trim()
            .split('\n')
            .map((l) => l.split('|'));

        fs.writeFileSync(path.join(conf, 'esp_sa'), espSaTable(lab, suite));
        const all = await decode();
        // Liveness probes are ESP dummies: tshark decrypts them to exactly the trailer
        // 01 02 | pad length 2 | next header 59, and checks their ICV like the rest.
        const probes = all.filter((r) => r[7] === '0102023b');
        for (const r of probes) assert.equal(r[2], '1', 'probe ICV verified by tshark');
        const rows = all.filter((r) => r[7] !== '0102023b');
        assert.equal(rows.length, 8, `4 requests + 4 replies, got ${rows.length}`);
        for (const [proto, spi, good, nh, src, dst, icmpType] of rows) {
          // Outer protocol: UDP (17) for RFC 3948 encapsulation, ESP (50) for raw.
          assert.equal(proto!.split(',')[0], encap === 'udp' ? '17' : '50');
          assert.match(spi!, /^0x0000[ab]001$/);
          assert.equal(good, '1', `ICV verified by tshark for SPI ${spi}`);
          assert.equal(Number(nh), 4, 'ESP next header is IPIP');
          const inner = { src: src!.split(',').pop(), dst: dst!.split(',').pop() };
          assert.ok(
            (inner.src === lab.a.vn && inner.dst === lab.b.vn && icmpType === '8') || (inner.src === lab.b.vn && inner.dst === lab.a.vn && icmpType === '0'),
            `inner ${JSON.stringify(inner)} icmp ${icmpType}`,
          );
        }

        // Negative control: one flipped key nibble and tshark must not call the ICV good.
        fs.writeFileSync(path.join(conf, 'esp_sa'), espSaTable(lab, suite, true));
        const bad = await decode();
        for (const r of bad) assert.notEqual(r[2], '1', 'wrong key must not verify');
      } finally {
        await lab.down();
      }
    });
  });
}

// With offloads on (the default), TCP reaches the daemon as super-packets of up to 64 KiB,
// which it segments while it seals, and leaves as UDP GSO super-datagrams. The capture device
// is told to take at most one segment per GSO packet (gso_max_segs 1), so the kernel splits
// the super-datagrams before the capture sees them, as a router's NIC would put them on a
// wire. tshark must then decrypt every ESP packet, verify every ICV and find every inner TCP
// segment's IPv4 and TCP checksums good.
describe('tshark decrypts a TCP transfer sent as segmented super-packets (aes-gcm-256 over udp, offloads on)', { skip: skipTcp }, () => {
  test('every ESP packet authentic, every inner checksum good, full-size segments, super-packets split', async () => {
    const lab = new PairLab({ prefix: uniquePrefix('tt'), suite: 'aes-gcm-256', encap: 'udp' });
    try {
      await lab.up();
      for (const n of [lab.a, lab.b]) await nsExec(n.ns, ['ip', 'link', 'set', 'eth-u', 'gso_max_segs', '1']);
      const pcap = path.join(lab.dir, 'tcp.pcap');
      const cap = await capture(lab.a.ns, 'eth-u', pcap, ['udp', 'port', '4500']);
      await nsExec(lab.b.ns, ['iperf3', '-s', '-D', '-1', '-B', lab.b.vn, '-p', '5231']);
      await new Promise((r) => setTimeout(r, 300));
      // Paced, so tcpdump keeps up (unpaced, it misses most of a 3 Gbit/s burst); TCP still hands
      // the TUN super-packets of a millisecond's worth of data.
      await nsExec(lab.a.ns, ['iperf3', '-c', lab.b.vn, '-B', lab.a.vn, '-p', '5231', '-n', '3M', '-b', '100M'], { timeoutMs: 60000 });
      await cap.stop();
      const links = ((await lab.show(lab.a, 'links')) as { links: Array<{ tsoSplit: number; path: { tunOffload: boolean; udpGso: boolean } }> }).links[0]!;
      assert.equal(links.path.tunOffload, true, 'the TUN runs with offloads');
      assert.equal(links.path.udpGso, true, 'the socket sends with UDP GSO');
      assert.ok(links.tsoSplit > 0, `super-packets were segmented (${links.tsoSplit})`);

      const conf = path.join(lab.dir, 'ws');
      fs.mkdirSync(conf);
      fs.writeFileSync(path.join(conf, 'esp_sa'), espSaTable(lab, 'aes-gcm-256'));
      const fields = ['esp.spi', 'esp.icv_good', 'ip.len', 'tcp.len', 'tcp.checksum.status', 'ip.checksum.status'];
      const rows = (
        await tshark(['-r', pcap, '-o', 'esp.enable_encryption_decode:TRUE', '-o', 'esp.enable_authentication_check:TRUE',
          '-o', 'tcp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE', '-Y', 'esp', '-T', 'fields', '-E', 'separator=|',
          ...fields.flatMap((f) => ['-e', f])], { WIRESHARK_CONFIG_DIR: conf })
      ).trim().split('\n').map((l) => l.split('|'));
      const data = rows.filter((r) => r[3] !== '' && r[3] !== undefined);
      assert.ok(data.length > 1000, `3 MB of TCP in ESP packets: ${data.length} captured`);
      for (const [spi, good, ipLen, , tcpSum, ipSum] of data) {
        assert.equal(good, '1', `ICV verified by tshark for SPI ${spi}`);
        // The outer then the inner IPv4 header: both checksums good.
        assert.deepEqual(ipSum!.split(','), ['1', '1'].slice(0, ipSum!.split(',').length), `IPv4 checksums ${ipSum}`);
        assert.equal(tcpSum, '1', `inner TCP checksum (inner length ${ipLen})`);
      }
      const full = data.filter((r) => r[2]!.split(',').pop() === '1438').length;
      assert.ok(full > 1000, `full-size (1438-byte) inner segments: ${full}`);
    } finally {
      await lab.down();
    }
  });
});
