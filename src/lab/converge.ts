// Convergence: every daemon answers, every vlink is up, every OSPF adjacency is Full, every
// node has a route to every VN prefix it can reach over vlinks, and a VN ping between every
// such pair gets an answer. The ping matrix also opens NAT mappings from the inside, which
// static-routing labs need before outside nodes can reach in.

import { nsExec } from './netns.js';
import { component, labStatus, problems, type LabStatus } from './status.js';
import type { LabState } from './state.js';

export interface ConvergeResult {
  converged: boolean;
  elapsedMs: number;
  status: LabStatus;
  /** Per node: the nodes whose VN address answered a ping. */
  reach: Map<string, string[]>;
  problems: string[];
}

/** One VN ping from every node to every node it should reach; concurrency per source node. */
export async function pingMatrix(s: LabState, skip?: Map<string, string[]>): Promise<Map<string, string[]>> {
  const reach = new Map<string, string[]>();
  await Promise.all(
    s.model.nodes.map(async (n) => {
      const ok = [...(skip?.get(n.name) ?? [])];
      for (const o of component(s, n.name)) {
        if (ok.includes(o)) continue;
        const peer = s.model.nodes.find((x) => x.name === o)!;
        const r = await nsExec(n.ns, ['ping', '-c', '1', '-W', '1', '-I', n.vnAddr, peer.vnAddr], { allowFail: true });
        if (r.code === 0) ok.push(o);
      }
      reach.set(n.name, ok);
    }),
  );
  return reach;
}

export async function waitConverged(s: LabState, timeoutMs: number, onWait?: (p: string[]) => void): Promise<ConvergeResult> {
  const t0 = Date.now();
  let reach = new Map<string, string[]>();
  let lastReport = t0;
  for (;;) {
    const st = await labStatus(s);
    let probs = problems(s, st);
    if (probs.length === 0) {
      reach = await pingMatrix(s, reach);
      for (const n of s.model.nodes) {
        const missing = component(s, n.name).filter((o) => !(reach.get(n.name) ?? []).includes(o));
        if (missing.length > 0) probs.push(`node ${n.name}: no VN ping answer from ${missing.join(', ')}`);
      }
      if (probs.length === 0) return { converged: true, elapsedMs: Date.now() - t0, status: st, reach, problems: [] };
    }
    if (Date.now() - t0 > timeoutMs) return { converged: false, elapsedMs: Date.now() - t0, status: st, reach, problems: probs };
    if (onWait && Date.now() - lastReport > 5000) {
      lastReport = Date.now();
      onWait(probs);
    }
    await new Promise((r) => setTimeout(r, 300));
    probs = [];
  }
}
