// Lab state on disk: /run/iiptran/lab/<NAME>/state.json records every namespace, process and
// file as it is created, so `lab down` can remove a lab after `lab up` crashed half way, and
// every other lab command can find the nodes without re-reading the topology.

import fs from 'node:fs';
import path from 'node:path';
import { routingDaemon, type LabModel } from './topology-model.js';
import type { LabDnsState } from './dns-service.js';
import { IiptranError } from '../errors.js';

export const LAB_ROOT = process.env['IIPTRAN_LAB_ROOT'] ?? '/run/iiptran/lab';

export interface LabProcess {
  pid: number;
  /** nsd: the lab's DNS server (dns-service.ts); kea: its DHCP server (kea.ts), recorded under node `kea`. */
  role: 'iiptran' | 'bird' | 'frr' | 'nsd' | 'kea';
  node: string;
  ns: string;
  log: string;
}

export interface NodePaths {
  dir: string;
  config: string;
  socket: string;
  log: string;
  birdConfig: string | null;
  birdSocket: string | null;
  birdLog: string | null;
  /** FRR nodes: the private run directory (configs, vty sockets, zserv.api, pid files; owned by frr) and the log all its daemons write. Absent in state files written before FRR labs. */
  frrDir?: string | null;
  frrLog?: string | null;
}

export interface LabState {
  version: 1;
  name: string;
  topologyFile: string;
  dir: string;
  createdAt: string;
  status: 'starting' | 'up' | 'degraded' | 'failed';
  /** Whether the generated node configs carry per-vlink liveness (needs a daemon that supports it). */
  liveness: boolean;
  namespaces: string[];
  /** Files and directories outside the lab dir (e.g. /etc/netns/<ns>). */
  files: string[];
  processes: LabProcess[];
  faults: [string, string][];
  nodes: Record<string, NodePaths>;
  model: LabModel;
  /** The lab DNS service's state (serial, breaks, anchor), when the topology declares one. */
  dns?: LabDnsState;
}

export function labDir(name: string): string {
  return path.join(LAB_ROOT, name);
}

export function nodePaths(name: string, model: LabModel, node: string): NodePaths {
  const dir = path.join(labDir(name), node);
  const m = model.nodes.find((n) => n.name === node);
  const daemon = m === undefined ? null : routingDaemon(m);
  const bird = daemon === 'bird';
  const frr = daemon === 'frr';
  return {
    dir,
    config: path.join(dir, 'node.yaml'),
    socket: path.join(dir, 'iiptran.sock'),
    log: path.join(dir, 'iiptran.log'),
    birdConfig: bird ? path.join(dir, 'bird.conf') : null,
    birdSocket: bird ? path.join(dir, 'bird.ctl') : null,
    birdLog: bird ? path.join(dir, 'bird.log') : null,
    frrDir: frr ? path.join(dir, 'frr') : null,
    frrLog: frr ? path.join(dir, 'frr.log') : null,
  };
}

export function saveState(s: LabState): void {
  const file = path.join(s.dir, 'state.json');
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function readState(name: string): LabState | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(labDir(name), 'state.json'), 'utf8')) as LabState;
  } catch {
    return null;
  }
}

export function listLabs(): string[] {
  try {
    return fs.readdirSync(LAB_ROOT).filter((d) => fs.existsSync(path.join(LAB_ROOT, d, 'state.json'))).sort();
  } catch {
    return [];
  }
}

/** The named lab, or the only one running when no name is given. */
export function resolveLab(name: string | undefined): LabState {
  if (name !== undefined) {
    const s = readState(name);
    if (s === null) throw new IiptranError('IIPTRAN_ERR_USAGE', `no lab named "${name}" (no ${path.join(labDir(name), 'state.json')}); running labs: ${listLabs().join(', ') || 'none'}`);
    return s;
  }
  const labs = listLabs();
  if (labs.length === 0) throw new IiptranError('IIPTRAN_ERR_USAGE', 'no lab is running; start one with `iiptran lab up FILE`');
  if (labs.length > 1) throw new IiptranError('IIPTRAN_ERR_USAGE', `several labs are running (${labs.join(', ')}); choose one with --lab NAME`);
  return readState(labs[0]!)!;
}

export function nodeOf(s: LabState, node: string): { paths: NodePaths; model: LabModel['nodes'][number] } {
  const m = s.model.nodes.find((n) => n.name === node);
  if (m === undefined) throw new IiptranError('IIPTRAN_ERR_USAGE', `lab ${s.name} has no node "${node}"; its nodes: ${s.model.nodes.map((n) => n.name).join(', ')}`);
  return { paths: s.nodes[node]!, model: m };
}
