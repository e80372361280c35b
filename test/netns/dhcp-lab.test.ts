// topologies/dhcp.yaml through the real CLI, with 30 s leases: a hub relays for three spokes
// whose VN addresses come from a real Kea 2.2 behind it (RFC 3456), routed by BIRD. Distinct
// leases with b's circuit-id reservation, hwtype=31 in Kea's log and the RFC 3456 chaddr and
// client-id in its lease file; the spokes reach each other and the hub; RENEW at T1 through the
// relay keeps the address; a spoke posing as another on its own vlink does not get its address;
// a DISCOVER flood from one vlink is rate-limited while another spoke gets a lease; a clean
// stop releases the lease in Kea and the hub's route; a killed spoke comes back by INIT-REBOOT
// to the same address; and the underlay never carries DHCP in clear.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { capture, netnsSkip } from './helpers.js';
import { readPcap } from './pcap.js';
import { assertGone, cli, waitFor } from './lab-harness.js';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';
import { nsExec } from '../../src/lab/netns.js';
import { readState, type LabState } from '../../src/lab/state.js';
import { pingMatrix } from '../../src/lab/converge.js';
import { withLeases } from '../../src/lab/dhcp-status.js';
import { keaPaths } from '../../src/lab/kea.js';
import { parseLeaseCsv } from '../dhcp/kea-harness.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'tcpdump', 'nft', 'bird', 'birdc', 'fping', 'kea-dhcp4']);
const LEASE = 30;
const T1 = 15;
const RESERVED = '10.10.5.5';
const SEND = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dhcp', 'dhcp-send.js');
const CLI = path.join(REPO_ROOT, 'bin', 'iiptran.js');
const hexName = (s: string) => ['00', ...Buffer.from(s).toString('hex').match(/../g)!].join(':');
const colonHex = (h: string) => h.match(/../g)!.join(':');
const esc = (s: string) => s.replace(/[.]/g, '\\.');

describe('lab: dhcp.yaml, VN addresses from Kea through the hub\'s relay (RFC 3456)', { skip }, () => {
  let name = '';
  let s: LabState;
  let kea = keaPaths('/nonexistent');
  const show = async (node: string): Promise<Obj> => JSON.parse((await cli(['lab', 'show', node, 'dhcp', '--json', '--lab', name])).stdout) as Obj;
  const client = async (node: string): Promise<Obj> => (await show(node)).clients[0];
  const keaLog = () => fs.readFileSync(kea.log, 'utf8');
  const leases = () => parseLeaseCsv(fs.readFileSync(kea.leases, 'utf8'));
  const ns = (n: string) => `${s.model.nsPrefix}${n}`;
  const rogue = async (node: string, args: Obj): Promise<{ xids: string[] }> => {
    const r = await nsExec(ns(node), [process.execPath, SEND, JSON.stringify(args)]);
    return JSON.parse(r.stdout) as { xids: string[] };
  };
  const daemonPid = (node: string) => readState(name)!.processes.filter((p) => p.node === node && p.role === 'iiptran').at(-1)!.pid;
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  /** Stops the node's daemon with `signal`. */
  const stop = async (node: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    const pid = daemonPid(node);
    process.kill(pid, signal);
    await waitFor(async () => !alive(pid), `${node}'s daemon to exit`, 10000);
  };
  /** Starts the node's daemon as `lab up` did; returns when. */
  const start = (node: string): number => {
    const p = s.nodes[node]!;
    const fd = fs.openSync(p.log, 'a');
    const child = spawn('ip', ['netns', 'exec', ns(node), process.execPath, CLI, 'node', '--config', p.config], { detached: true, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    child.unref();
    const st = readState(name)!;
    st.processes.push({ pid: child.pid!, role: 'iiptran', node, ns: ns(node), log: p.log });
    fs.writeFileSync(path.join(st.dir, 'state.json'), JSON.stringify(st, null, 2));
    return Date.now();
  };
  const restart = async (node: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<number> => {
    await stop(node, signal);
    return start(node);
  };

  before(async () => {
    name = `dh${process.pid % 100000}${Math.floor(Math.random() * 100)}`.slice(0, 12);
    const text = fs.readFileSync(path.join(REPO_ROOT, 'topologies', 'dhcp.yaml'), 'utf8').replace(/^name: .*$/m, `name: ${name}`).replace(/lease_s: \d+/, `lease_s: ${LEASE}`);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'iil-test-')), 'dhcp.yaml');
    fs.writeFileSync(file, text);
    const t0 = Date.now();
    const out = await cli(['lab', 'up', file, '--timeout', '60']);
    const st = readState(name);
    if (out.code !== 0 || st === null) {
      await cli(['lab', 'down', name]);
      throw new Error(`lab up failed (${out.code}):\n${out.stdout}\n${out.stderr}`);
    }
    console.log(`MEASURED dhcp lab up (Kea, 4 daemons, BIRD, leases, converged): ${Date.now() - t0} ms`);
    assert.match(out.stdout, /routing converged in/);
    s = st;
    kea = keaPaths(s.dir);
  });

  after(async () => {
    if (name !== '') {
      await cli(['lab', 'down', name]);
      await assertGone(name);
    }
  });

  test('every spoke gets a distinct lease, b its circuit-id reservation; Kea logs hwtype=31 and keeps chaddr and client-id', async () => {
    const got = new Map<string, Obj>();
    for (const n of ['a', 'b', 'c']) got.set(n, await client(n));
    const addrs = [...got.values()].map((c) => c.lease.address);
    console.log(`MEASURED dhcp leases: ${[...got].map(([n, c]) => `${n}=${c.lease.address} (lease ${c.lease.lease_time} s, T1 ${c.lease.t1} s, T2 ${c.lease.t2} s)`).join(', ')}`);
    assert.equal(new Set(addrs).size, 3, `distinct: ${addrs}`);
    assert.equal(got.get('b')!.lease.address, RESERVED, 'the reservation by circuit-id vl-b');
    const relay = s.model.dhcp!.relayAddr;
    const csv = leases();
    for (const [n, c] of got) {
      assert.equal(c.state, 'BOUND');
      assert.deepEqual([c.lease.server, c.lease.lease_time, c.lease.t1], [relay, LEASE, T1]);
      assert.equal(c.installed, `${c.lease.address}/32 peer 10.10.0.1`);
      const underlay = s.model.nodes.find((x) => x.name === n)!.underlayAddr;
      assert.equal(c.chaddr.slice(0, 12), `4000${Buffer.from(underlay.split('.').map(Number)).toString('hex')}`, 'RFC 3456 chaddr: 0x40 0x00 + underlay');
      const l = csv.get(c.lease.address)!;
      assert.ok(l, `Kea has a lease for ${c.lease.address}`);
      assert.equal(l.hwaddr, colonHex(c.chaddr), 'the 7-byte chaddr in the lease file');
      assert.equal(l.clientId, hexName(n), 'client-id 0x00 + the node name');
      assert.match(keaLog(), new RegExp(`\\[hwtype=31 ${esc(colonHex(c.chaddr))}\\], cid=\\[${hexName(n)}\\]`));
    }
    const hub = (await show('hub')).relay;
    assert.deepEqual(hub.bindings.map((b: Obj) => `${b.address}@${b.vlink}`).sort(), [...got].map(([n, c]) => `${c.lease.address}@vl-${n}`).sort());
    for (const n of ['a', 'b', 'c']) assert.equal(hub.vlinks[`vl-${n}`].identity, s.model.nodes.find((x) => x.name === n)!.underlayAddr, 'remote-id = the IKE identity');
  });

  test('the spokes reach each other and the hub: BIRD carries the relay\'s /32 routes', async () => {
    const cur = await withLeases(s);
    const reach = await pingMatrix(cur);
    for (const n of cur.model.nodes) assert.equal(reach.get(n.name)!.length, 3, `${n.name} reaches ${reach.get(n.name)}`);
    const hubRoutes = (await nsExec(ns('hub'), ['ip', '-4', 'route', 'show', 'proto', 'dhcp'])).stdout;
    const a = cur.model.nodes.find((x) => x.name === 'a')!.vnAddr;
    const c = cur.model.nodes.find((x) => x.name === 'c')!.vnAddr;
    assert.match(hubRoutes, new RegExp(`^${esc(a)} dev vl-a .*metric 64`, 'm'));
    const aRoutes = (await nsExec(ns('a'), ['ip', '-4', 'route', 'show', c])).stdout;
    assert.match(aRoutes, /via 10\.10\.0\.1 dev vl-hub proto bird/, 'a learned c\'s leased address by OSPF');
  });

  test(`renewal: RENEW at T1 (${T1} s) goes through the relay, Kea extends the lease, the address stays`, async () => {
    await waitFor(async () => (await client('a')).events.renewed >= 1, 'a to renew', (T1 + 10) * 1000);
    const c = await client('a');
    const trace: string[] = c.trace;
    console.log(`TRACE dhcp renewal (spoke a):\n      ${trace.join('\n      ')}`);
    const renewAt = trace.findIndex((l) => / send REQUEST xid 0x[0-9a-f]+ \S+ -> \S+ ciaddr/.test(l));
    const renewLine = trace[renewAt]!;
    // The lease runs from the first message of the exchange that got it (RFC 2131 §4.4.1).
    const before = trace.slice(0, renewAt).reverse();
    const xid = /xid (0x[0-9a-f]+)/.exec(before.find((l) => / send REQUEST xid /.test(l))!)![1]!;
    const started = Date.parse(trace.find((l) => l.includes(` xid ${xid} `))!.slice(0, 24));
    const ackAt = Date.parse(before.find((l) => / ACK .* lease/.test(l))!.slice(0, 24));
    const dt = (Date.parse(renewLine.slice(0, 24)) - started) / 1000;
    console.log(`MEASURED dhcp RENEW ${dt.toFixed(2)} s after the exchange began (T1 ${T1} s), ${((Date.parse(renewLine.slice(0, 24)) - ackAt) / 1000).toFixed(2)} s after the ACK`);
    assert.ok(dt > T1 - 0.5 && dt < T1 + 1.5, `RENEW ${dt} s after the lease began`);
    const m = / send REQUEST xid (0x[0-9a-f]+) (\S+) -> (\S+) ciaddr/.exec(renewLine)!;
    assert.equal(m[2], c.lease.address);
    assert.equal(m[3], s.model.dhcp!.relayAddr, 'unicast to the server identifier: the hub');
    const log = keaLog();
    assert.match(log, new RegExp(`tid=${m[1]}: DHCPREQUEST \\(type 3\\) received from ${esc(s.model.dhcp!.relayAddr)}`), 'relayed');
    assert.match(log, new RegExp(`tid=${m[1]}: extending lifetime of the lease for address ${esc(c.lease.address)}`));
    assert.equal(c.state, 'BOUND');
    assert.equal(c.installed, `${c.lease.address}/32 peer 10.10.0.1`);
  });

  test('spoofing: c sends b\'s chaddr and client-id on its own vlink and does not get b\'s address', async () => {
    const b = await client('b');
    const c = await client('c');
    const dropsBefore = c.drops['not-for-us'] ?? 0;
    const d = await rogue('c', { bind: c.lease.address, count: 1, chaddr: b.chaddr, clientId: b.client_id });
    const r = await rogue('c', { bind: c.lease.address, count: 1, chaddr: b.chaddr, clientId: b.client_id, type: 'REQUEST', requested: RESERVED, serverId: s.model.dhcp!.relayAddr });
    await waitFor(async () => keaLog().includes(`tid=${r.xids[0]}: trying to send packet DHCPNAK`), 'Kea to NAK the spoofed REQUEST', 5000);
    const offered = new RegExp(`tid=${d.xids[0]}: lease (\\S+) will be advertised`).exec(keaLog());
    assert.ok(offered, 'Kea answered the spoofed DISCOVER');
    assert.notEqual(offered[1], RESERVED, 'not b\'s reserved address');
    assert.ok(!new RegExp(`tid=${r.xids[0]}: .*DHCPACK`).test(keaLog()), 'no ACK for the spoofed REQUEST');
    assert.equal(leases().get(RESERVED)!.hwaddr, colonHex(b.chaddr));
    const hub = (await show('hub')).relay;
    assert.equal(hub.bindings.find((x: Obj) => x.address === RESERVED).vlink, 'vl-b');
    await waitFor(async () => ((await client('c')).drops['not-for-us'] ?? 0) >= dropsBefore + 2, 'c\'s own client to see and drop the replies', 5000);
    assert.equal((await client('c')).lease.address, c.lease.address);
  });

  test('release on a clean stop: Kea marks the lease released, the relay\'s route goes', async () => {
    const a = await client('a');
    const addr = a.lease.address;
    await stop('a', 'SIGTERM');
    // The RELEASE went out before the daemon exited; Kea writes a row with valid_lifetime 0.
    await waitFor(async () => leases().get(addr)?.validLifetime === 0, `Kea to mark ${addr} released`, 3000);
    await waitFor(async () => !(await nsExec(ns('hub'), ['ip', '-4', 'route', 'show', 'proto', 'dhcp'])).stdout.includes(`${addr} `), 'the hub route to go', 5000);
    assert.ok(!(await show('hub')).relay.bindings.some((x: Obj) => x.address === addr));
    assert.match(fs.readFileSync(s.nodes['hub']!.log, 'utf8'), new RegExp(`route ${esc(addr)}/32 via vl-a removed \\(release\\)`));
    assert.match(fs.readFileSync(s.nodes['a']!.log, 'utf8'), new RegExp(`DHCP lease lost \\(released\\): ${esc(addr)} removed from vl-hub`));
    start('a');
    await waitFor(async () => (await client('a').catch(() => null))?.state === 'BOUND', 'a to lease again', 15000);
  });

  test('exhaustion: a DISCOVER flood from c is rate-limited, and a spoke that starts during it gets a lease', async () => {
    const before = (await show('hub')).relay.vlinks['vl-c'];
    const c = await client('c');
    const N = 400;
    const t0 = Date.now();
    // About 4 s of flood, a DISCOVER every 10 ms with a new chaddr and client-id each.
    const flood = rogue('c', { bind: c.lease.address, count: N, paceMs: 10 });
    await new Promise((r) => setTimeout(r, 300));
    const t1 = await restart('a', 'SIGTERM');
    await waitFor(async () => (await client('a').catch(() => null))?.state === 'BOUND', 'a to lease during the flood', 15000);
    const leasedAt = Date.now();
    await flood;
    const floodMs = Date.now() - t0;
    console.log(`MEASURED dhcp lease during a ${N}-DISCOVER flood (${floodMs} ms) from another vlink: ${leasedAt - t1} ms after the restart`);
    assert.ok(leasedAt < t0 + floodMs, 'a got its lease while the flood was still on');
    const after = (await show('hub')).relay.vlinks['vl-c'];
    const limited = after.rate_limited - before.rate_limited;
    const relayed = after.relayed - before.relayed;
    console.log(`MEASURED dhcp flood from vl-c: ${N} sent in ${floodMs} ms, ${relayed} relayed, ${limited} rate-limited`);
    assert.ok(relayed + limited >= N - 10, `${relayed + limited} of ${N} reached the relay`);
    assert.ok(relayed <= 10 + 2 * Math.ceil(floodMs / 1000) + 1, `relayed ${relayed} (burst 10, then 2/s)`);
    assert.equal((await client('b')).state, 'BOUND');
  });

  test('restart: a killed spoke comes back by INIT-REBOOT with the same address; no DHCP in clear on the underlay', async () => {
    const b = await client('b');
    const file = path.join(s.dir, 'lan-dhcp.pcap');
    const cap = await capture(ns('lan'), 'br0', file);
    const t0 = await restart('b', 'SIGKILL');
    await waitFor(async () => (await client('b').catch(() => null))?.installed != null, 'b to lease again', 15000);
    console.log(`MEASURED dhcp INIT-REBOOT after SIGKILL: address back ${Date.now() - t0} ms after the restart`);
    const again = await client('b');
    assert.equal(again.lease.address, b.lease.address);
    assert.equal(again.lease.address, RESERVED);
    assert.ok(again.trace.some((l: string) => /STOPPED -> INIT-REBOOT/.test(l)), again.trace.join('\n'));
    assert.ok(!again.trace.some((l: string) => /send DISCOVER/.test(l)), 'no DISCOVER');
    // A renewal or two of the others happen meanwhile too.
    await new Promise((r) => setTimeout(r, 1000));
    await cap.stop();
    const pkts = readPcap(file);
    const esp = pkts.filter((p) => p.proto === 17 && p.dport === 4500);
    assert.ok(esp.length > 20, `captured ${pkts.length} packets, ${esp.length} ESP-in-UDP`);
    const dhcp = pkts.filter((p) => p.proto === 17 && (p.dport === 67 || p.dport === 68));
    assert.deepEqual(dhcp.map((p) => `${p.src} > ${p.dst}:${p.dport}`), [], 'DHCP in clear on the underlay');
    const cookie = Buffer.from([0x63, 0x82, 0x53, 0x63]);
    assert.equal(pkts.filter((p) => p.ip.includes(cookie)).length, 0, 'the DHCP magic cookie in an underlay packet');
    assert.ok(!pkts.some((p) => p.ip.includes(Buffer.from(b.chaddr, 'hex'))), 'b\'s chaddr on the underlay');
  });
});
