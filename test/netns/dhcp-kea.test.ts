// RFC 3456 against a real server (root): Kea 2.2 in one namespace, our relay and clients
// (test/dhcp/relay-harness.ts) in the hub's namespace, joined by a veth. Leases are distinct,
// Kea logs hwtype=31 and keeps the RFC 3456 chaddr and the client-id in its lease file, the
// circuit-id reservation holds, a client copying another's chaddr and client-id on its own
// vlink does not get that address, renewal happens at T1 through the relay, a DISCOVER flood
// is rate-limited while a new spoke still gets a lease, INIT-REBOOT after a restart keeps the
// address, and RELEASE deletes the lease in Kea and the relay's route.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { addNs, delNsSync, vethPair } from '../../src/lab/netns.js';
import { startKea, type KeaServer } from '../dhcp/kea-harness.js';
import type { HarnessConfig } from '../dhcp/relay-harness.js';
import { netnsSkip, uniquePrefix } from './helpers.js';

type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'kea-dhcp4']);
const HUB = '10.99.0.1';
const KEA = '10.99.0.2';
const RESERVED = '10.10.5.5';
const LEASE = 16;
const T1 = 5;
const T2 = 11;
const HARNESS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dhcp', 'relay-harness.js');
const hexName = (s: string) => ['00', ...Buffer.from(s).toString('hex').match(/../g)!].join(':');
const colonHex = (h: string) => h.match(/../g)!.join(':');

describe('DHCP over the overlay against Kea 2.2 (RFC 3456)', { skip }, () => {
  const tag = uniquePrefix('dk');
  const srv = `${tag}s`;
  const hub = `${tag}h`;
  let dir = '';
  let kea: KeaServer | null = null;
  let h: ChildProcess | null = null;
  const events: Ev[] = [];
  const send = (o: object) => h!.stdin!.write(`${JSON.stringify(o)}\n`);
  const waitFor = async (pred: (e: Ev) => boolean, what: string, ms = 15000): Promise<Ev> => {
    const t0 = Date.now();
    for (;;) {
      const e = events.find(pred);
      if (e !== undefined) return e;
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}; last events:\n${events.slice(-15).map((x) => JSON.stringify(x)).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const acquired = (spoke: string, via?: string, after = 0) => waitFor((e) => e.ev === 'client' && e.spoke === spoke && e.type === 'acquired' && (via === undefined || e.via === via) && e.at >= after, `${spoke} acquired`);
  const view = async (): Promise<Ev> => {
    const n = events.length;
    send({ cmd: 'view' });
    return waitFor((e) => e.ev === 'view' && events.indexOf(e) >= n, 'view');
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iit-dhcp-kea-'));
    await addNs(srv);
    await addNs(hub);
    await vethPair(hub, `${tag}h0`, `${HUB}/24`, srv, `${tag}s0`, `${KEA}/24`);
    kea = await startKea(srv, path.join(dir, 'kea'), {
      iface: `${tag}s0`, serverAddr: KEA, relayAddr: HUB, subnet: '10.10.0.0/16', pool: '10.10.5.10 - 10.10.5.200',
      reservations: [{ circuitId: 'vl-b', ip: RESERVED, hostname: 'spoke-b' }], valid: LEASE, renew: T1, rebind: T2,
    });
    const cfg: HarnessConfig = {
      relayAddr: HUB, kea: KEA, stateDir: path.join(dir, 'spokes'), rate: { burst: 10, perSecond: 2 },
      spokes: [
        { name: 'a', vlink: 'vl-a', identity: 'spoke-a.test', underlay: '10.200.1.2' },
        { name: 'b', vlink: 'vl-b', identity: 'spoke-b.test', underlay: '10.200.2.2' },
        { name: 'c', vlink: 'vl-c', identity: 'spoke-c.test', underlay: '10.200.3.2' },
        { name: 'd', vlink: 'vl-d', identity: 'spoke-d.test', underlay: '10.200.4.2' },
        // On c's vlink, with b's underlay (so b's chaddr, given b's octet) and b's client-id.
        { name: 'spoof', vlink: 'vl-c', identity: 'spoke-c.test', underlay: '10.200.2.2', clientIdName: 'spoke-b.test', leaseFile: path.join(dir, 'spokes', 'spoof.lease.json') },
      ],
    };
    fs.mkdirSync(cfg.stateDir, { recursive: true });
    const cfgFile = path.join(dir, 'harness.json');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    h = spawn('ip', ['netns', 'exec', hub, process.execPath, HARNESS, cfgFile], { stdio: ['pipe', 'pipe', 'inherit'] });
    readline.createInterface({ input: h.stdout! }).on('line', (l) => {
      try {
        events.push(JSON.parse(l) as Ev);
      } catch {
        /* not ours */
      }
    });
  });

  after(async () => {
    if (h !== null && h.exitCode === null) {
      send({ cmd: 'exit' });
      await Promise.race([new Promise((r) => h!.once('exit', r)), new Promise((r) => setTimeout(r, 3000))]);
      if (h.exitCode === null) h.kill('SIGKILL');
    }
    await kea?.stop();
    delNsSync(srv);
    delNsSync(hub);
    if (process.env.IIPTRAN_KEEP_DHCP_TEST !== '1') fs.rmSync(dir, { recursive: true, force: true });
  });

  test('three spokes get distinct leases; the vl-b circuit-id reservation; hwtype=31 in the log; chaddr and client-id in the lease file', async () => {
    const t0 = Date.now();
    for (const s of ['a', 'b', 'c']) send({ cmd: 'start', spoke: s });
    const got = await Promise.all(['a', 'b', 'c'].map((s) => acquired(s, 'discover')));
    console.log(`MEASURED dhcp DORA through relay and Kea: ${Date.now() - t0} ms for 3 spokes`);
    const addrs = got.map((e) => e.address);
    assert.equal(new Set(addrs).size, 3, `distinct: ${addrs}`);
    assert.equal(got[1]!.address, RESERVED);
    for (const e of got) {
      assert.equal(e.server, HUB, 'server id is the hub');
      assert.equal(e.mask, '255.255.0.0');
      assert.deepEqual([e.leaseTime, e.t1, e.t2], [LEASE, T1, T2]);
    }
    assert.match(kea!.log(), /hwtype=31 40:00:0a:c8:01:02:/);
    const leases = new Map(kea!.leases().map((l) => [l.address, l]));
    for (const [i, s] of ['a', 'b', 'c'].entries()) {
      const start = events.find((e) => e.ev === 'started' && e.spoke === s)!;
      const l = leases.get(got[i]!.address)!;
      assert.ok(l, `Kea has a lease for ${got[i]!.address}`);
      assert.equal(l.hwaddr, colonHex(start.chaddr));
      assert.match(l.hwaddr, new RegExp(`^40:00:0a:c8:0${i + 1}:02:`));
      assert.equal(l.clientId, hexName(`spoke-${s}.test`));
      assert.equal(l.validLifetime, LEASE);
    }
    const v = await view();
    assert.deepEqual(v.relay.bindings.map((b: Ev) => `${b.address}@${b.vlink}`).sort(), got.map((e, i) => `${e.address}@vl-${'abc'[i]}`).sort());
    for (const [i, e] of got.entries()) {
      assert.ok(events.some((x) => x.ev === 'route' && x.action === 'install' && x.address === e.address && x.vlink === `vl-${'abc'[i]}`));
    }
  });

  test("spoofing: b's chaddr and client-id sent over vl-c do not get b's reserved address", async () => {
    fs.copyFileSync(path.join(dir, 'spokes', 'b.lease.json'), path.join(dir, 'spokes', 'spoof.lease.json'));
    const t = Date.now();
    send({ cmd: 'start', spoke: 'spoof' });
    const start = await waitFor((e) => e.ev === 'started' && e.spoke === 'spoof', 'spoof started');
    const b = events.find((e) => e.ev === 'started' && e.spoke === 'b')!;
    assert.equal(start.chaddr, b.chaddr, 'the spoofer really uses b\'s chaddr');
    assert.equal(start.clientId, b.clientId);
    const e = await acquired('spoof', undefined, t);
    assert.notEqual(e.address, RESERVED);
    const v = await view();
    const binding = v.relay.bindings.find((x: Ev) => x.address === e.address);
    assert.equal(binding.vlink, 'vl-c', 'the relay routes the spoofer\'s address to its own vlink');
    assert.equal(v.relay.bindings.find((x: Ev) => x.address === RESERVED)?.vlink, 'vl-b');
    send({ cmd: 'stop', spoke: 'spoof', release: true });
  });

  test('renewal at T1 goes through the relay and keeps every address', async () => {
    const firsts = ['a', 'c'].map((s) => events.find((e) => e.ev === 'client' && e.spoke === s && e.type === 'acquired')!);
    const renewed = await Promise.all(['a', 'c'].map((s) => waitFor((e) => e.ev === 'client' && e.spoke === s && e.type === 'renewed', `${s} renewed`, (T1 + 5) * 1000)));
    for (const [i, r] of renewed.entries()) {
      assert.equal(r.via, 'renew');
      assert.equal(r.address, firsts[i]!.address);
      const dt = (r.at - firsts[i]!.at) / 1000;
      console.log(`MEASURED dhcp renewal of ${r.address}: ${dt.toFixed(2)} s after the ACK (T1 ${T1} s)`);
      assert.ok(dt >= T1 - 1 && dt < T1 + 2, `renewed ${dt} s after the lease began`);
    }
    const trace = events.filter((e) => e.ev === 'trace' && e.line.startsWith('vl-a:')).map((e) => e.line);
    console.log(`TRACE ${trace.join('\n      ')}`);
    assert.ok(trace.some((l: string) => /BOUND -> RENEWING/.test(l)));
    const a = firsts[0]!.address.replace(/\./g, '\\.');
    const renew = trace.map((l: string) => new RegExp(`send REQUEST xid (0x[0-9a-f]+) ${a} -> ${HUB.replace(/\./g, '\\.')} ciaddr`).exec(l)).find((m) => m !== null);
    assert.ok(renew, 'RENEW unicast from the leased address to the hub (the server id)');
    // Kea got that very REQUEST from the relay, and extended the lease.
    const log = kea!.log();
    assert.match(log, new RegExp(`tid=${renew[1]}: DHCPREQUEST \\(type 3\\) received from ${HUB.replace(/\./g, '\\.')} to ${KEA.replace(/\./g, '\\.')}`));
    assert.match(log, new RegExp(`tid=${renew[1]}: extending lifetime of the lease for address ${a}`));
  });

  test('a DISCOVER flood from one vlink is rate-limited; a new spoke still gets a lease', async () => {
    const before = (await view()).relay.drops['rate-limited'] ?? 0;
    send({ cmd: 'flood', vlink: 'vl-f', identity: 'flood.test', n: 300 });
    await waitFor((e) => e.ev === 'flooded', 'flood');
    const t = Date.now();
    send({ cmd: 'start', spoke: 'd' });
    const d = await acquired('d', 'discover', t);
    const v = await view();
    assert.ok(v.relay.drops['rate-limited'] - before >= 290, `rate-limited ${v.relay.drops['rate-limited'] - before}`);
    assert.ok(v.relay.vlinks['vl-f'].relayed <= 10);
    assert.ok(d.address.startsWith('10.10.5.'));
    assert.deepEqual(Object.keys(v.relay.drops), ['rate-limited'], 'nothing else dropped in the whole run');
  });

  test('INIT-REBOOT after a restart keeps the address', async () => {
    const first = events.find((e) => e.ev === 'client' && e.spoke === 'c' && e.type === 'acquired')!;
    send({ cmd: 'stop', spoke: 'c', release: false });
    await waitFor((e) => e.ev === 'stopped' && e.spoke === 'c', 'c stopped');
    const t = Date.now();
    send({ cmd: 'start', spoke: 'c' });
    const again = await acquired('c', 'init-reboot', t);
    assert.equal(again.address, first.address);
  });

  test('RELEASE on a clean stop: Kea deletes the lease, the relay removes the route', async () => {
    const a = events.find((e) => e.ev === 'client' && e.spoke === 'a' && e.type === 'acquired')!;
    send({ cmd: 'stop', spoke: 'a', release: true });
    await waitFor((e) => e.ev === 'route' && e.action === 'remove' && e.address === a.address && e.reason === 'release', 'route removed');
    const t0 = Date.now();
    while (kea!.leases().find((l) => l.address === a.address)?.validLifetime !== 0) {
      if (Date.now() - t0 > 3000) assert.fail(`Kea did not mark ${a.address} released: ${JSON.stringify(kea!.leases())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(events.some((e) => e.ev === 'client' && e.spoke === 'a' && e.type === 'lost' && e.reason === 'released'));
    const v = await view();
    assert.equal(v.relay.bindings.find((x: Ev) => x.address === a.address), undefined);
  });
});
