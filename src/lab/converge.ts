// Convergence: every daemon answers, every vlink is up, every OSPF adjacency is Full, every
// node has a route to every VN prefix it can reach over vlinks, and a VN ping between every
// such pair gets an answer. The ping matrix also opens NAT mappings from the inside, which
// static-routing labs need before outside nodes can reach in. Each milestone's time is kept:
// it is where a large lab's start-up time goes.

import os from 'node:os';
import { IiptranError } from '../errors.js';
import { nsExec, run } from './netns.js';
import { component, labStatus, problems, type LabStatus } from './status.js';
import type { LabState } from './state.js';
import { mapLimit, probeConcurrency } from './waves.js';
import { withLeases } from './dhcp-status.js';
import { pingMatrix6 } from './status6.js';

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
 * Who pings whom: one ping per pair of nodes joined by vlinks, since the request follows one
 * node's route and the reply the other's, so a ping each way would test the same two routes
 * twice. A node behind NAT pings its outside peers (its packets open the NAT mapping, which
 * static-routing labs need); otherwise the pairs alternate by index so every node sends about
 * half of its pings. Pairs already in `skip` (answered earlier) are left out.
 */
export function pingPlan(s: Pick<LabState, 'model'>, skip?: Map<string, string[]>): Map<string, string[]> {
  const nodes = s.model.nodes;
  const index = new Map(nodes.map((n, i) => [n.name, i]));
  const plan = new Map<string, string[]>(nodes.map((n) => [n.name, []]));
  for (const [i, a] of nodes.entries()) {
    for (const o of component(s as LabState, a.name)) {
      const j = index.get(o)!;
      if (j <= i || skip?.get(a.name)?.includes(o) || skip?.get(o)?.includes(a.name)) continue;
      const b = nodes[j]!;
      const natA = a.behindNat !== null && a.behindNat !== b.behindNat;
      const natB = b.behindNat !== null && b.behindNat !== a.behindNat;
      const aSends = natA !== natB ? natA : (i + j) % 2 === 1;
      (aSends ? plan.get(a.name)! : plan.get(b.name)!).push(aSends ? b.name : a.name);
    }
  }
  return plan;
}

/**
 * The VN ping matrix (pingPlan): one fping per sending node, a packet every 5 ms (so a
 * 100-node lab does not flood its own overlay), one retry, 1 s for the first answer; a
 * bounded number of senders at a time. An answer counts for both ends of the pair.
 */
export async function pingMatrix(s: LabState, skip?: Map<string, string[]>, concurrency = 2 * probeConcurrency(os.availableParallelism())): Promise<Map<string, string[]>> {
  const byAddr = new Map(s.model.nodes.map((n) => [n.vnAddr, n.name]));
  const reach = new Map<string, Set<string>>(s.model.nodes.map((n) => [n.name, new Set(skip?.get(n.name) ?? [])]));
  const plan = pingPlan(s, skip);
  await mapLimit(s.model.nodes, concurrency, async (n) => {
    const targets = plan.get(n.name)!.map((o) => s.model.nodes.find((x) => x.name === o)!.vnAddr);
    if (targets.length === 0) return;
    // Exit status 1 just means some target did not answer; -a lists those that did.
    const r = await nsExec(n.ns, ['fping', '-a', '-q', '-r', '1', '-t', '1000', '-i', '5', '-S', n.vnAddr, ...targets], { allowFail: true, timeoutMs: 30000 });
    if (r.code > 1) throw new IiptranError('IIPTRAN_ERR_LAB', `fping in ${n.ns} failed (${r.code}): ${r.stderr.trim()}`);
    for (const line of r.stdout.split('\n')) {
      const o = byAddr.get(line.trim());
      if (o === undefined) continue;
      reach.get(n.name)!.add(o);
      reach.get(o)!.add(n.name);
    }
  });
  return new Map([...reach].map(([k, v]) => [k, [...v]]));
}

type StatusMilestone = Exclude<keyof ConvergeMilestones, 'stable' | 'pings'>;

/** Which milestones a status satisfies, judged from its list of problems. */
function reached(probs: string[]): Record<StatusMilestone, boolean> {
  const none = (re: RegExp) => !probs.some((p) => re.test(p));
  return { daemons: none(/does not answer/), vlinks: none(/^vlink /), ospf: none(/^(OSPF adjacency|OSPFv3 adjacency|BGP session) /), routes: none(/no (IPv6 )?route to/) };
}

/** "daemons 0.4 s, vlinks 3.1 s, ..." for progress output. */
export function renderMilestones(m: ConvergeMilestones): string {
  return (Object.entries(m) as [keyof ConvergeMilestones, number | null][]).map(([k, v]) => `${k} ${v === null ? 'never' : `${(v / 1000).toFixed(1)} s`}`).join(', ');
}

export async function waitConverged(lab: LabState, timeoutMs: number, onWait?: (p: string[]) => void): Promise<ConvergeResult> {
  const t0 = Date.now();
  let reach = new Map<string, string[]>();
  let lastReport = t0;
  let lastDigests = '';
  const milestones: ConvergeMilestones = { daemons: null, vlinks: null, ospf: null, routes: null, stable: null, pings: null };
  for (;;) {
    // With leased VN addresses (dhcp-status.ts) as they are now.
    const s = await withLeases(lab);
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
      // Dual stack: the same pairs over IPv6, once IPv4 answers everywhere.
      if (probs.length === 0 && s.model.ipv6 === true) {
        const reach6 = await pingMatrix6(s, pingPlan(s));
        for (const n of s.model.nodes) {
          const missing = component(s, n.name).filter((o) => !(reach6.get(n.name) ?? []).includes(o));
          if (missing.length > 0) probs.push(`node ${n.name}: no IPv6 VN ping answer from ${missing.join(', ')}`);
        }
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
