// topologies/v6-underlay.yaml through the real CLI (issue #10): a triangle over an IPv6-only
// underlay with a router between c and the others. Every vlink up with IKEv2 over IPv6
// (ID_IPV6_ADDR), OSPFv2 and OSPFv3 Full, IPv4 and IPv6 ping matrices, MTUs for the 40-byte
// outer header, nothing but IPv6 ESP (UDP 4500 and next header 50) on the underlay, and a cut
// rerouting both families through the third node.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { netnsSkip, capture } from './helpers.js';
import { assertGone, cli, labUp, node, PATTERN } from './lab-harness.js';
import { bothMatrices, bothOspfFull, cutRerouteBoth } from './dual-stack-checks.js';
import { nsExec } from '../../src/lab/netns.js';
import type { LabState } from '../../src/lab/state.js';
import { readPcap } from './pcap.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'sysctl', 'ping', 'nft', 'fping', 'tcpdump', 'zebra', 'ospfd', 'ospf6d', 'bfdd']);

describe('lab: v6-underlay triangle (IPv6-only underlay, dual-stack overlay)', { skip }, () => {
  let name = '';
  let s: LabState;
  before(async () => {
    const r = await labUp('v6-underlay.yaml', 'v6u');
    name = r.name;
    s = r.state;
    assert.match(r.out.stdout, /routing converged in/);
  });
  after(async () => {
    if (name !== '') {
      await cli(['lab', 'down', name]);
      await assertGone(name);
    }
  });

  test('every underlay address is IPv6; IKE SAs ESTABLISHED with IPv6 identities; vlink MTUs for IPv6 outer headers', async () => {
    for (const n of s.model.nodes) assert.match(n.underlayAddr, /^fd00:200:0:[12]::\d$/);
    assert.notEqual(node(s, 'c').underlayAddr.split('::')[0], node(s, 'a').underlayAddr.split('::')[0], 'c is on another /64, behind r');
    const ike = JSON.parse((await cli(['lab', 'show', 'a', 'ike', '--json', '--lab', name])).stdout) as Obj;
    for (const p of ike.peers) {
      assert.equal(p.state, 'ESTABLISHED', `${p.vlink}: ${p.lastError}`);
      assert.equal(p.sas[0].localId, node(s, 'a').underlayAddr);
      assert.equal(p.sas[0].remoteId, node(s, p.vlink.slice(3)).underlayAddr);
    }
    const links = JSON.parse((await cli(['lab', 'show', 'a', 'links', '--json', '--lab', name])).stdout) as Obj;
    const byName = new Map((links.links as Obj[]).map((l) => [l.name, l]));
    assert.deepEqual([byName.get('vl-b')!.mtu, byName.get('vl-c')!.mtu], [1418, 1426], 'udp and raw ESP over IPv6');
    assert.deepEqual(byName.get('vl-c')!.outer, { src: node(s, 'a').underlayAddr, dst: node(s, 'c').underlayAddr, proto: 4, encap: 'esp', dport: null });
  });

  test('OSPFv2 and OSPFv3 Full; IPv4 and IPv6 ping matrices', async () => {
    await bothOspfFull(name);
    await bothMatrices(s);
  });

  test('a\'s underlay carries only IPv6 ESP: UDP 4500 to b, next header 50 to c, no VN cleartext', async () => {
    const a = node(s, 'a');
    const file = path.join(s.dir, 'a-underlay6.pcap');
    const cap = await capture(a.ns, 'eth0', file);
    for (const to of ['b', 'c']) {
      await nsExec(a.ns, ['ping', '-c', '3', '-i', '0.05', '-W', '2', '-p', PATTERN, '-I', a.vnAddr, node(s, to).vnAddr], { allowFail: true });
      await nsExec(a.ns, ['ping', '-6', '-c', '3', '-i', '0.05', '-W', '2', '-p', PATTERN, '-I', a.vnAddr6!, node(s, to).vnAddr6!], { allowFail: true });
    }
    await cap.stop();
    const pkts = readPcap(file).filter((p) => p.proto !== 58 && p.proto !== 0);
    assert.ok(pkts.length >= 24, `captured ${pkts.length}`);
    assert.ok(pkts.every((p) => p.ip[0]! >> 4 === 6), 'IPv6 only on the underlay');
    assert.ok(pkts.some((p) => p.proto === 17 && p.dport === 4500 && p.dst === node(s, 'b').underlayAddr));
    assert.ok(pkts.some((p) => p.proto === 50 && p.dst === node(s, 'c').underlayAddr));
    for (const p of pkts) {
      assert.ok(p.proto === 50 || (p.proto === 17 && (p.dport === 4500 || p.dport === 500)), `unexpected next header ${p.proto} to ${p.dst}`);
      assert.ok(!p.ip.toString('hex').includes(PATTERN), 'VN cleartext on the underlay');
    }
  });

  test('A-B underlay cut: both families reroute through C over the IPv6 underlay; restore', async () => {
    await cutRerouteBoth(s, name, 'v6-underlay FRR-FRR');
  });
});
