// RFC 2003 / RFC 6040 on the outer header with real daemons: the outer TOS copies the inner
// one on the wire (checked in the raw header bytes and by tshark), a CE mark made by the
// underlay (an nftables rule in the receiving namespace) reaches the VN receiver, and CE over
// a Not-ECT inner packet is dropped and counted. Both encapsulations: UDP 4500 and raw ESP.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { PairLab } from '../../src/lab/pair-lab.js';
import { nsExec, parsePing } from '../../src/lab/netns.js';
import { ipv4Check } from '../../src/wire/ipv4.js';
import { capture, tshark, uniquePrefix, netnsSkip } from './helpers.js';
import { readPcap, type CapturedIp } from './pcap.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'ping', 'tcpdump', 'tshark', 'nft']);
// DSCP EF (46) with ECT(0): what an ECN-capable, expedited VN flow puts in its TOS byte.
const EF_ECT0 = 0xba;
const CE = 3;
const COUNT = 5;
// A liveness probe is a 36-byte ESP packet; an echo request carried inside is well over 64.
const PROBE_MAX_ESP = 64;

for (const encap of ['udp', 'esp'] as const) {
  describe(`ecn: outer TOS over ${encap}`, { skip }, () => {
    const lab = new PairLab({ prefix: uniquePrefix(`e${encap[0]}`), encap });
    const table = 'iitecn';
    before(async () => {
      await lab.up();
    });
    after(async () => {
      await nsExec(lab.b.ns, ['nft', 'delete', 'table', 'ip', table], { allowFail: true });
      await lab.down();
    });

    const espOf = (p: CapturedIp): boolean => (encap === 'udp' ? p.proto === 17 && p.dport === 4500 : p.proto === 50);
    const ping = async (tos: number): Promise<ReturnType<typeof parsePing>> =>
      parsePing(
        (await nsExec(lab.a.ns, ['ping', '-c', String(COUNT), '-i', '0.05', '-W', '1', '-Q', `0x${tos.toString(16)}`, '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout,
      );
    const eceDrops = async (): Promise<number> => ((await lab.show(lab.b, 'counters')) as Obj).vlinks[lab.b.vlink]['ecn-ce-not-ect'] as number;

    test('every data packet leaves with the inner TOS (EF + ECT(0) = 0xba) as its outer TOS; probes with 0', async (t) => {
      const file = path.join(lab.dir, `underlay-${encap}.pcap`);
      const cap = await capture(lab.a.ns, 'eth-u', file, ['src', 'host', lab.a.underlay]);
      const p = await ping(EF_ECT0);
      await cap.stop();
      assert.equal(p.received, COUNT, 'ping with -Q 0xba crosses the overlay');
      const esp = readPcap(file).filter(espOf);
      const data = esp.filter((x) => x.payload.length > PROBE_MAX_ESP);
      const probes = esp.filter((x) => x.payload.length <= PROBE_MAX_ESP);
      assert.ok(data.length >= COUNT, `captured ${data.length} ESP data packets`);
      for (const x of data) assert.equal(x.ip[1], EF_ECT0, `outer TOS of a data packet: 0x${x.ip[1]!.toString(16)}`);
      for (const x of probes) assert.equal(x.ip[1], 0, 'liveness probe outer TOS');
      t.diagnostic(`${data.length} data packets at 0xba, ${probes.length} probes at 0`);

      // tshark, as an independent decoder of the same bytes.
      const sel = encap === 'udp' ? 'udp.dstport == 4500' : 'ip.proto == 50';
      const out = await tshark(['-r', file, '-Y', `${sel} && ip.len > ${20 + (encap === 'udp' ? 8 : 0) + PROBE_MAX_ESP}`, '-T', 'fields', '-e', 'ip.dsfield']);
      const fields = out.split('\n').filter((l) => l.trim() !== '');
      assert.equal(fields.length, data.length, 'tshark sees the same data packets');
      for (const f of fields) assert.equal(Number(f.trim()), EF_ECT0, `tshark ip.dsfield ${f}`);
    });

    test('CE marked on the underlay reaches the VN receiver; CE over Not-ECT is dropped and counted', async (t) => {
      // A congested underlay hop on the way into B, marking unconditionally (even Not-ECT,
      // which only a broken or hostile hop does) so both RFC 6040 cases can be driven.
      await nsExec(lab.b.ns, [
        'nft',
        `add table ip ${table}; add chain ip ${table} pre { type filter hook prerouting priority -300; }; ` +
          `add rule ip ${table} pre ip saddr ${lab.a.underlay} ip daddr ${lab.b.underlay} ip ecn set ce`,
      ]);
      try {
        const file = path.join(lab.dir, `vlink-${encap}.pcap`);
        const cap = await capture(lab.b.ns, lab.b.vlink, file, ['icmp']);
        const p = await ping(EF_ECT0);
        await cap.stop();
        assert.equal(p.received, COUNT, 'ECT traffic still flows under CE marking');
        const inner = readPcap(file).filter((x) => x.src === lab.a.vn && x.dst === lab.b.vn);
        assert.ok(inner.length >= COUNT, `captured ${inner.length} inner packets on ${lab.b.vlink}`);
        for (const x of inner) {
          assert.equal(x.ip[1]! & 3, CE, `inner ECN after decapsulation: ${x.ip[1]! & 3}`);
          assert.equal(x.ip[1]! >> 2, EF_ECT0 >> 2, 'DSCP untouched by decapsulation');
          assert.equal(ipv4Check(x.ip), null, 'inner header checksum valid after the rewrite');
        }
        t.diagnostic(`${inner.length} inner packets on ${lab.b.vlink}, all CE`);

        const before = await eceDrops();
        const q = await ping(0);
        assert.equal(q.received, 0, 'Not-ECT under a CE mark never reaches the receiver');
        // Let the last request reach B's daemon before reading its counters.
        await new Promise((r) => setTimeout(r, 200));
        assert.equal((await eceDrops()) - before, COUNT, "every request counted as 'ecn-ce-not-ect'");
      } finally {
        await nsExec(lab.b.ns, ['nft', 'delete', 'table', 'ip', table], { allowFail: true });
      }
      // Without the marker, Not-ECT traffic flows again.
      const r = await ping(0);
      assert.equal(r.received, COUNT);
    });
  });
}
