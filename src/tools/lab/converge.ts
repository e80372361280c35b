// Convergence: every daemon answers, every vlink is up, every OSPF adjacency is Full, every
// node has a route to every VN prefix it can reach over vlinks, and a VN ping between every
// such pair gets an answer. The ping matrix also opens NAT mappings from the inside, which
// static-routing labs need before outside nodes can reach in. Each milestone's time is kept:
// it is where a large lab's start-up time goes.

import os from 'node:os';
import { IiptranError } from '../../errors.js';
import { nsExec, run } from '../netns.js';
import { component, labStatus, problems, type LabStatus } from './status.js';
import type { LabState } from './state.js';
import { mapLimit, probeConcurrency } from './waves.js';

/** Milliseconds from the start of the wait until each condition first held (null: never). */
export interface ConvergeMilestones {
  daemons: number | null;
  vlinks: number | null;
  ospf: number | null;
  routes: number | null;
  /** Routes complete and unchanged since the previous poll. */
  stable: number | null;
  pings: number | null;
}

export interface ConvergeResult {
  converged: boolean;
  elapsedMs: number;
  status: LabStatus;
  /** Per node: the nodes whose VN address answered a ping. */
  reach: Map<string, string[]>;
  problems: string[];
  milestones: ConvergeMilestones;
}

/** fping (one process pings all of a node's peers) comes from the Debian package of that name. */
export async function requireFping(): Promise<void> {
  const r = await run('fping', ['--version'], { allowFail: true });
  if (r.code !== 0) throw new IiptranError('IIPTRAN_ERR_LAB', 'fping is missing (the lab pings every VN address with it): install the Debian package fping (scripts/setup.sh lists it)');
}

/**
 * One VN ping from every node to every node it should reach (minus those in `skip`): one fping
 * per source node, sending a packet every 5 ms (so a 100-node lab does not flood its own
 * overlay), no retries, 1 s per target; a bounded number of sources at a time.
 */
export async function pingMatrix(s: LabState, skip?: Map<string, string[]>, concurrency = 2 * probeConcurrency(os.availableParallelism())): Promise<Map<string, string[]>> {
  const byAddr = new Map(s.model.nodes.map((n) => [n.vnAddr, n.name]));
  const reach = new Map<string, string[]>();
  await mapLimit(s.model.nodes, concurrency, async (n) => {
    const ok = [...(skip?.get(n.name) ?? [])];
    const targets = component(s, n.name).filter((o) => !ok.includes(o)).map((o) => s.model.nodes.find((x) => x.name === o)!.vnAddr);
    if (targets.length > 0) {
      // Exit status 1 just means some target did not answer; -a lists those that did.
      const r = await nsExec(n.ns, ['fping', '-a', '-q', '-r', '1', '-t', '1000', '-i', '5', '-S', n.vnAddr, ...targets], { allowFail: true, timeoutMs: 30000 });
      if (r.code > 1) throw new IiptranError('IIPTRAN_ERR_LAB', `fping in ${n.ns} failed (${r.code}): ${r.stderr.trim()}`);
      for (const line of r.stdout.split('\n')) {
        const name = byAddr.get(line.trim());
        if (name !== undefined && !ok.includes(name)) ok.push(name);
      }
    }
    reach.set(n.name, ok);
  });
  return reach;
}

type StatusMilestone = Exclude<keyof ConvergeMilestones, 'stable' | 'pings'>;

/** Which milestones a status satisfies, judged from its list of problems. */
function reached(probs: string[]): Record<StatusMilestone, boolean> {
  const none = (re: RegExp) => !probs.some((p) => re.test(p));
  return { daemons: none(/does not answer/), vlinks: none(/^vlink /), ospf: none(/^OSPF adjacency /), routes: none(/no route to/) };
}

/** "daemons 0.4 s, vlinks 3.1 s, ..." for progress output. */
export function renderMilestones(m: ConvergeMilestones): string {
  return (Object.entries(m) as [keyof ConvergeMilestones, number | null][]).map(([k, v]) => `${k} ${v === null ? 'never' : `${(v / 1000).toFixed(1)} s`}`).join(', ');
}

export async function waitConverged(s: LabState, timeoutMs: number, onWait?: (p: string[]) => void): Promise<ConvergeResult> {
  const t0 = Date.now();
  let reach = new Map<string, string[]>();
  let lastReport = t0;
  let lastDigests = '';
  const milestones: ConvergeMilestones = { daemons: null, vlinks: null, ospf: null, routes: null, stable: null, pings: null };
  for (;;) {
    const st = await labStatus(s);
    const probs = problems(s, st);
    const now = Date.now() - t0;
    for (const [k, v] of Object.entries(reached(probs)) as [StatusMilestone, boolean][]) if (v && milestones[k] === null) milestones[k] = now;
    // Routes that are all there may still be moving (OSPF floods and recomputes on a 1 s tick
    // in every BIRD): pinging through them then fails for a round that costs a 100-node lab
    // ten seconds. So ping once two polls in a row saw the same routes everywhere.
    const digests = st.nodes.map((n) => n.routeDigest).join(' ');
    const settled = digests === lastDigests;
    lastDigests = digests;
    if (probs.length === 0 && !settled) probs.push('routes are still changing');
    else if (probs.length === 0) {
      milestones.stable ??= now;
      reach = await pingMatrix(s, reach);
      for (const n of s.model.nodes) {
        const missing = component(s, n.name).filter((o) => !(reach.get(n.name) ?? []).includes(o));
        if (missing.length > 0) probs.push(`node ${n.name}: no VN ping answer from ${missing.join(', ')}`);
      }
      if (probs.length === 0) {
        milestones.pings = Date.now() - t0;
        return { converged: true, elapsedMs: Date.now() - t0, status: st, reach, problems: [], milestones };
      }
    }
    if (Date.now() - t0 > timeoutMs) return { converged: false, elapsedMs: Date.now() - t0, status: st, reach, problems: probs, milestones };
    if (onWait && Date.now() - lastReport > 5000) {
      lastReport = Date.now();
      onWait(probs);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}
