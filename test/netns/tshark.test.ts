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
