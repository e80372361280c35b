// Removes a lab completely, whatever state it is in: the processes state.json recorded,
// anything else still running in the lab's namespaces (e.g. an iperf3 -D started through
// `lab exec`), the namespaces themselves (which takes their veths, bridges and TUNs with
// them), /etc/netns files and the lab directory. Works from state.json, and without it
// sweeps by the lab's namespace prefix, so a crash at any point leaves nothing stranded.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listNs, run } from '../netns.js';
import { labNsPrefix } from '../topology-model.js';
import { labDir, readState, type LabState } from './state.js';
import { mapLimit, probeConcurrency } from './waves.js';

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

async function nsPids(ns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', ns], { allowFail: true });
  return r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((p) => p !== process.pid);
}

export async function teardown(name: string, log: (m: string) => void = () => {}): Promise<{ namespaces: number; processes: number }> {
  const s: LabState | null = readState(name);
  const dir = labDir(name);
  const prefix = labNsPrefix(name);
  const namespaces = [...new Set([...(s?.namespaces ?? []), ...(await listNs()).filter((n) => n.startsWith(prefix))])];

  const pids = new Set<number>();
  for (const p of s?.processes ?? []) if (alive(p.pid) && isOurs(p.pid, dir)) pids.add(p.pid);
  // A few `ip` processes at a time: one after another, a 100-node lab's 105 namespaces take seconds.
  const concurrency = probeConcurrency(os.availableParallelism());
  for (const list of await mapLimit(namespaces, concurrency, nsPids)) for (const p of list) pids.add(p);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      /* exited meanwhile */
    }
  }
  const deadline = Date.now() + 3000;
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
  await mapLimit(namespaces, concurrency, (ns) => run('ip', ['netns', 'del', ns], { allowFail: true }));
  for (const f of s?.files ?? []) fs.rmSync(f, { recursive: true, force: true });
  try {
    for (const d of fs.readdirSync('/etc/netns')) if (d.startsWith(prefix)) fs.rmSync(path.join('/etc/netns', d), { recursive: true, force: true });
  } catch {
    /* no /etc/netns */
  }
  fs.rmSync(dir, { recursive: true, force: true });
  log(`removed ${namespaces.length} namespaces and ${pids.size} processes`);
  return { namespaces: namespaces.length, processes: pids.size };
}
