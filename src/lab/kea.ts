// The lab's Kea DHCPv4 server (Debian's kea-dhcp4 2.2), set up as ../shared/interop/kea.md
// records: UDP sockets on its one address (every client message comes relayed), the subnet
// chosen by the relay's giaddr, the relay named as server identifier (option 54) so renewals
// pass the relay, reservations by circuit-id (the relay's vlink to the node), memfile leases in
// a CSV with LFC off, so one file holds every lease change. Everything it writes, lock and pid
// files included, stays in <lab dir>/kea/ (KEA_LOCKFILE_DIR, KEA_PIDFILE_DIR), where tests and
// people read kea-leases4.csv and kea-dhcp4.log.

import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { IiptranError } from '../errors.js';
import { nsExec, run } from './netns.js';
import { KEA_ELEMENT, type LabDhcp } from './dhcp-model.js';
import { saveState, type LabState } from './state.js';

export interface KeaPaths {
  dir: string;
  config: string;
  log: string;
  leases: string;
  stdout: string;
}

export function keaPaths(labDir: string): KeaPaths {
  const dir = path.join(labDir, 'kea');
  return { dir, config: path.join(dir, 'kea-dhcp4.json'), log: path.join(dir, 'kea-dhcp4.log'), leases: path.join(dir, 'kea-leases4.csv'), stdout: path.join(dir, 'kea-stdout.log') };
}

export function keaConfig(d: LabDhcp, p: KeaPaths): object {
  return {
    Dhcp4: {
      'interfaces-config': { interfaces: [`${d.serverIf}/${d.serverAddr}`], 'dhcp-socket-type': 'udp', 'outbound-interface': 'use-routing' },
      'lease-database': { type: 'memfile', persist: true, name: p.leases, 'lfc-interval': 0 },
      'host-reservation-identifiers': ['circuit-id', 'hw-address', 'client-id'],
      'valid-lifetime': d.leaseS,
      'renew-timer': d.renewS,
      'rebind-timer': d.rebindS,
      subnet4: [
        {
          id: 1,
          subnet: d.subnet,
          pools: [{ pool: `${d.pool[0]} - ${d.pool[1]}` }],
          relay: { 'ip-addresses': [d.relayAddr] },
          'option-data': [{ name: 'dhcp-server-identifier', data: d.relayAddr }],
          reservations: d.reservations.map((r) => ({ 'circuit-id': `'${r.circuitId}'`, 'ip-address': r.ip, hostname: r.node })),
        },
      ],
      // DEBUG: the log shows every packet (hwtype=31, each RENEW), which a lab is for.
      loggers: [{ name: 'kea-dhcp4', severity: 'DEBUG', debuglevel: 99, output_options: [{ output: p.log, flush: true }] }],
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Before a lab with DHCP creates anything: is Kea there at all? */
export async function requireKea(): Promise<void> {
  const r = await run('kea-dhcp4', ['-v'], { allowFail: true });
  if (r.code !== 0) throw new IiptranError('IIPTRAN_ERR_LAB', 'kea-dhcp4 is missing (a lab with a dhcp section runs it): install the Debian package kea-dhcp4-server (scripts/setup.sh lists it)');
}

/**
 * Writes the config, validates it inside the namespace (kea-dhcp4 -t checks the interface),
 * starts Kea detached and recorded in the lab state, and returns once it logs DHCP4_STARTED.
 */
export async function startLabKea(d: LabDhcp, labDir: string, s: LabState, timeoutMs = 10000): Promise<number> {
  const p = keaPaths(labDir);
  fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(p.config, JSON.stringify(keaConfig(d, p), null, 2) + '\n', { mode: 0o644 });
  // Kea opens no socket on an interface that is not up yet, and does not retry by default.
  const t1 = Date.now();
  for (;;) {
    const l = await nsExec(d.ns, ['ip', '-j', 'link', 'show', d.serverIf], { allowFail: true });
    if (l.code === 0 && (JSON.parse(l.stdout) as { flags: string[] }[])[0]?.flags.includes('LOWER_UP')) break;
    if (Date.now() - t1 > 5000) throw new IiptranError('IIPTRAN_ERR_LAB', `${d.serverIf} in ${d.ns} is not up after 5 s; Kea would bind nothing`);
    await sleep(20);
  }
  const env = ['env', `KEA_LOCKFILE_DIR=${p.dir}`, `KEA_PIDFILE_DIR=${p.dir}`];
  const t = await nsExec(d.ns, [...env, 'kea-dhcp4', '-t', p.config], { allowFail: true });
  if (t.code !== 0) throw new IiptranError('IIPTRAN_ERR_LAB', `kea-dhcp4 -t refused ${p.config}: ${(t.stdout + t.stderr).trim()}`);
  const fd = fs.openSync(p.stdout, 'a');
  // `ip netns exec` and `env` both exec, so the pid is kea-dhcp4's own. Own session: it outlives `lab up`.
  const child = spawn('ip', ['netns', 'exec', d.ns, ...env, 'kea-dhcp4', '-c', p.config], { detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  child.on('error', () => {});
  child.unref();
  if (child.pid === undefined) throw new IiptranError('IIPTRAN_ERR_LAB', `cannot start kea-dhcp4 in ${d.ns}`);
  // Not under the relay's name: node-proc.ts reads a node's routes through its processes.
  s.processes.push({ pid: child.pid, role: 'kea', node: KEA_ELEMENT, ns: d.ns, log: p.log });
  saveState(s);
  const t0 = Date.now();
  const log = () => (fs.existsSync(p.log) ? fs.readFileSync(p.log, 'utf8') : '');
  while (!log().includes('DHCP4_STARTED')) {
    if (child.exitCode !== null || child.signalCode !== null) throw new IiptranError('IIPTRAN_ERR_LAB', `kea-dhcp4 exited during start-up: ${fs.readFileSync(p.stdout, 'utf8').trim()}`);
    if (Date.now() - t0 > timeoutMs) throw new IiptranError('IIPTRAN_ERR_LAB', `kea-dhcp4 did not log DHCP4_STARTED within ${timeoutMs / 1000} s; see ${p.log}`);
    await sleep(50);
  }
  return child.pid;
}
