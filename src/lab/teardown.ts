// Removes a lab completely, whatever state it is in: the processes state.json recorded,
// anything else still running in the lab's namespaces (e.g. an iperf3 -D started through
// `lab exec`), the namespaces themselves (which takes their veths, bridges and TUNs with
// them), /etc/netns files and the lab directory. Works from state.json, and without it
// sweeps by the lab's namespace prefix, so a crash at any point leaves nothing stranded.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listNs, run } from './netns.js';
import { labNsPrefix } from './topology-model.js';
import { labDir, readState, type LabState } from './state.js';
import { labScale, mapLimit, probeConcurrency } from './waves.js';
import { FRR_STATE_DIR } from './frr.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Guards against pid reuse: only signal a recorded pid whose command line still names this lab. */
function isOurs(pid: number, dir: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return false;
  }
}

/**
 * Every process (but this one) whose network namespace is one of `namespaces`: one pass over
 * /proc comparing namespace inodes, what `ip netns pids` does once per namespace (105 passes
 * over every process on the machine for a 100-node lab took seconds).
 */
function nsPids(namespaces: string[]): number[] {
  const key = (st: fs.Stats) => `${st.dev}:${st.ino}`;
  const wanted = new Set<string>();
  for (const ns of namespaces) {
    try {
      wanted.add(key(fs.statSync(`/run/netns/${ns}`)));
    } catch {
      /* already gone */
    }
  }
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (wanted.has(key(fs.statSync(`/proc/${d}/ns/net`)))) out.push(Number(d));
    } catch {
      /* exited, or a kernel thread */
    }
  }
  return out;
}

/** The parent pid from /proc/PID/stat (the field after the state, past the parenthesised name); 0 when gone. */
function parentOf(pid: number): number {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) || 0;
  } catch {
    return 0;
  }
}

export async function teardown(name: string, log: (m: string) => void = () => {}): Promise<{ namespaces: number; processes: number }> {
  const s: LabState | null = readState(name);
  const dir = labDir(name);
  const prefix = labNsPrefix(name);
  const namespaces = [...new Set([...(s?.namespaces ?? []), ...(await listNs()).filter((n) => n.startsWith(prefix))])];

  const pids = new Set<number>();
  for (const p of s?.processes ?? []) if (alive(p.pid) && isOurs(p.pid, dir)) pids.add(p.pid);
  for (const p of nsPids(namespaces)) pids.add(p);
  // What the report counts: the lab's own processes, not the short-lived children one of them
  // happens to be running (a daemon's nft, NSD's workers), which die with it anyway.
  const own = [...pids].filter((p) => !pids.has(parentOf(p))).length;
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      /* exited meanwhile */
    }
  }
  // 3 s lets a few daemons stop cleanly; a hundred on a small machine need longer.
  const deadline = Date.now() + 3000 * labScale(s?.model.nodes.length ?? 0).factor;
  while ([...pids].some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const p of pids) {
    if (!alive(p)) continue;
    log(`pid ${p} ignored SIGTERM; killing`);
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  // A few at a time: one after another, a 100-node lab's 105 namespaces take seconds.
  await mapLimit(namespaces, probeConcurrency(os.availableParallelism()), (ns) => run('ip', ['netns', 'del', ns], { allowFail: true }));
  for (const f of s?.files ?? []) fs.rmSync(f, { recursive: true, force: true });
  try {
    for (const d of fs.readdirSync('/etc/netns')) if (d.startsWith(prefix)) fs.rmSync(path.join('/etc/netns', d), { recursive: true, force: true });
  } catch {
    /* no /etc/netns */
  }
  // FRR's per-node state directories (-N <namespace>) are named by the lab's prefix too.
  try {
    for (const d of fs.readdirSync(FRR_STATE_DIR)) if (d.startsWith(prefix)) fs.rmSync(path.join(FRR_STATE_DIR, d), { recursive: true, force: true });
  } catch {
    /* FRR not installed */
  }
  fs.rmSync(dir, { recursive: true, force: true });
  log(`removed ${namespaces.length} namespaces and ${own} processes`);
  return { namespaces: namespaces.length, processes: own };
}
