// What /proc tells about a lab node, read through its own processes (no process spawned per
// node per poll). Its main IPv4 routing table: /proc/<pid>/net/route of a process inside the
// node's namespace (its daemon) costs a file read, where `ip -n NS route` costs a process, and
// at 100 nodes per poll that is most of a poll's time on a busy machine. /proc shows one next
// hop per route (the first of a multipath route), which is all the convergence check needs;
// `ip` remains the fallback when no lab process is alive there. And each daemon's resident
// memory, for `lab status --json` and the scale measurements in the README.

import fs from 'node:fs';
import os from 'node:os';
import { run } from './netns.js';
import type { LabState } from './state.js';

export interface KernelRoute {
  /** Always with its prefix length, e.g. 10.10.0.2/32. */
  dst: string;
  dev?: string;
  gateway?: string;
  nexthops?: { dev?: string; gateway?: string }[];
}

const RTF_GATEWAY = 0x2;
const RTF_REJECT = 0x200;

/** /proc/net/route holds addresses as hex of the 32-bit word in host byte order. */
function hexToIpv4(h: string, endian: 'LE' | 'BE'): string {
  const n = parseInt(h, 16);
  const b = [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return (endian === 'LE' ? b.reverse() : b).join('.');
}

function maskLen(h: string): number {
  let n = parseInt(h, 16) >>> 0;
  let len = 0;
  while (n !== 0) {
    len += n & 1;
    n >>>= 1;
  }
  return len;
}

/** Parses /proc/net/route; reject routes (unreachable, prohibit, blackhole) lead nowhere and are left out. */
export function parseProcRoutes(text: string, endian: 'LE' | 'BE' = os.endianness()): KernelRoute[] {
  const out: KernelRoute[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const flags = parseInt(f[3]!, 16);
    if (flags & RTF_REJECT) continue;
    const r: KernelRoute = { dst: `${hexToIpv4(f[1]!, endian)}/${maskLen(f[7]!)}`, dev: f[0]! };
    if (flags & RTF_GATEWAY) r.gateway = hexToIpv4(f[2]!, endian);
    out.push(r);
  }
  return out;
}

/** Recorded pids of the node's processes that are still ours (not reused by an unrelated process). */
function procOf(s: LabState, node: string, role?: 'iiptran' | 'bird' | 'frr'): number[] {
  return s.processes
    .filter((p) => p.node === node && (role === undefined || p.role === role))
    .map((p) => p.pid)
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(s.dir);
      } catch {
        return false;
      }
    });
}

/** Resident memory (VmRSS) of the node's daemons of that role (FRR's several added up), in KiB; null when none is running. */
export function rssKiB(s: LabState, node: string, role: 'iiptran' | 'bird' | 'frr'): number | null {
  let sum: number | null = null;
  for (const pid of procOf(s, node, role)) {
    try {
      const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) sum = (sum ?? 0) + Number(m[1]);
    } catch {
      /* exited meanwhile */
    }
  }
  return sum;
}

/** The node's main table; null when it cannot be read at all. */
export async function nodeRoutes(s: LabState, node: string): Promise<KernelRoute[] | null> {
  for (const pid of procOf(s, node)) {
    try {
      return parseProcRoutes(fs.readFileSync(`/proc/${pid}/net/route`, 'utf8'));
    } catch {
      /* exited: try the next one, then ip */
    }
  }
  const ns = s.model.nodes.find((n) => n.name === node)!.ns;
  const r = await run('ip', ['-n', ns, '-j', '-4', 'route', 'show'], { allowFail: true });
  if (r.code !== 0) return null;
  if (r.stdout.trim() === '') return [];
  return (JSON.parse(r.stdout) as (KernelRoute & { type?: string })[])
    .filter((x) => x.type === undefined || x.type === 'unicast')
    .map((x) => ({ ...x, dst: x.dst === 'default' ? '0.0.0.0/0' : x.dst.includes('/') ? x.dst : `${x.dst}/32` }));
}
