// A real Kea DHCPv4 server (Debian's kea-dhcp4 2.2) in a test namespace, set up as
// ../shared/interop/kea.md records: UDP sockets on one address, a subnet chosen by the relay's
// giaddr, the hub as server identifier, a circuit-id reservation, memfile leases in a CSV that
// tests read. Used by the capture script and the netns integration test.

import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { nsExec } from '../../src/lab/netns.js';

export interface KeaOptions {
  iface: string;
  /** Kea's own address (it binds this:67). */
  serverAddr: string;
  /** The hub's relay address: giaddr, subnet selection and the server identifier clients see. */
  relayAddr: string;
  subnet: string;
  pool: string;
  reservations: { circuitId: string; ip: string; hostname: string }[];
  valid: number;
  renew: number;
  rebind: number;
  authoritative?: boolean;
}

export function keaConfig(o: KeaOptions, dir: string): object {
  return {
    Dhcp4: {
      'interfaces-config': { interfaces: [`${o.iface}/${o.serverAddr}`], 'dhcp-socket-type': 'udp', 'outbound-interface': 'use-routing' },
      'lease-database': { type: 'memfile', persist: true, name: path.join(dir, 'kea-leases4.csv'), 'lfc-interval': 0 },
      'host-reservation-identifiers': ['circuit-id', 'hw-address', 'client-id'],
      authoritative: o.authoritative ?? false,
      'valid-lifetime': o.valid,
      'renew-timer': o.renew,
      'rebind-timer': o.rebind,
      subnet4: [
        {
          id: 1,
          subnet: o.subnet,
          pools: [{ pool: o.pool }],
          relay: { 'ip-addresses': [o.relayAddr] },
          // Option 54 = the hub, so clients unicast RENEWs to the hub, which relays them (kea.md §8).
          'option-data': [{ name: 'dhcp-server-identifier', data: o.relayAddr }],
          reservations: o.reservations.map((r) => ({ 'circuit-id': `'${r.circuitId}'`, 'ip-address': r.ip, hostname: r.hostname })),
        },
      ],
      loggers: [{ name: 'kea-dhcp4', severity: 'DEBUG', debuglevel: 99, output_options: [{ output: path.join(dir, 'kea-dhcp4.log'), flush: true }] }],
    },
  };
}

export interface KeaServer {
  dir: string;
  logFile: string;
  leaseFile: string;
  log(): string;
  leases(): KeaLease[];
  stop(): Promise<void>;
}

export interface KeaLease {
  address: string;
  hwaddr: string;
  clientId: string;
  validLifetime: number;
  expire: number;
  state: number;
  hostname: string;
}

/** The memfile CSV, last row per address wins (the file is append-only; kea.md §6). */
export function parseLeaseCsv(text: string): Map<string, KeaLease> {
  const out = new Map<string, KeaLease>();
  for (const line of text.split('\n').slice(1)) {
    const f = line.split(',');
    if (f.length < 10 || f[0] === '') continue;
    out.set(f[0]!, { address: f[0]!, hwaddr: f[1]!, clientId: f[2]!, validLifetime: Number(f[3]), expire: Number(f[4]), hostname: f[8]!, state: Number(f[9]) });
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startKea(ns: string, dir: string, o: KeaOptions): Promise<KeaServer> {
  fs.mkdirSync(dir, { recursive: true });
  const cfg = path.join(dir, 'kea-dhcp4.json');
  fs.writeFileSync(cfg, JSON.stringify(keaConfig(o, dir), null, 2));
  // Kea opens no socket on an interface that is not RUNNING yet, and does not retry by default.
  const t1 = Date.now();
  for (;;) {
    const l = await nsExec(ns, ['ip', '-j', 'link', 'show', o.iface]);
    if ((JSON.parse(l.stdout) as { flags: string[] }[])[0]?.flags.includes('LOWER_UP')) break;
    if (Date.now() - t1 > 5000) throw new Error(`${o.iface} not LOWER_UP within 5 s`);
    await sleep(20);
  }
  const env = ['env', `KEA_LOCKFILE_DIR=${dir}`, `KEA_PIDFILE_DIR=${dir}`];
  // -t checks that the interface exists, so it must run inside the namespace (kea.md §10.3).
  const t = await nsExec(ns, [...env, 'kea-dhcp4', '-t', cfg], { allowFail: true });
  if (t.code !== 0) throw new Error(`kea-dhcp4 -t refused ${cfg}: ${t.stdout}${t.stderr}`);
  const out = fs.openSync(path.join(dir, 'kea-stdout.log'), 'a');
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, ...env, 'kea-dhcp4', '-c', cfg], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const logFile = path.join(dir, 'kea-dhcp4.log');
  const leaseFile = path.join(dir, 'kea-leases4.csv');
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  const t0 = Date.now();
  while (!log().includes('DHCP4_STARTED')) {
    if (child.exitCode !== null) throw new Error(`kea-dhcp4 exited ${child.exitCode}: ${fs.readFileSync(path.join(dir, 'kea-stdout.log'), 'utf8')}`);
    if (Date.now() - t0 > 10000) throw new Error('kea-dhcp4 did not log DHCP4_STARTED within 10 s');
    await sleep(50);
  }
  return {
    dir,
    logFile,
    leaseFile,
    log,
    leases: () => [...parseLeaseCsv(fs.existsSync(leaseFile) ? fs.readFileSync(leaseFile, 'utf8') : '').values()],
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
    },
  };
}
