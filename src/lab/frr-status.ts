// What a lab node's FRR says about itself: whether each of its daemons answers, and its OSPF
// neighbours in the same shape BIRD's are reported in (status.ts puts both in one table).

import path from 'node:path';
import type { OspfNeighbor } from './bird.js';
import { frrCommand, frrReady } from './frr-ctl.js';
import { frrDaemons, frrVty, type FrrDaemon } from './frr.js';
import type { LabModel, ModelNode } from './topology-model.js';

interface FrrNeighborJson {
  nbrState?: string;
  state?: string;
  ifaceName?: string;
  address?: string;
  ifaceAddress?: string;
}

/**
 * Parses `show ip ospf neighbor json` (FRR 8): neighbours keyed by router id, each a list of
 * adjacencies; ifaceName is "vl-b:10.255.0.0" (interface and our address on it).
 */
export function parseFrrOspfNeighbors(json: string): OspfNeighbor[] {
  let doc: { neighbors?: Record<string, FrrNeighborJson[]> };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch {
    return [];
  }
  const out: OspfNeighbor[] = [];
  for (const [routerId, list] of Object.entries(doc.neighbors ?? {})) {
    for (const nb of Array.isArray(list) ? list : []) {
      out.push({
        routerId,
        state: nb.nbrState ?? nb.state ?? 'unknown',
        iface: (nb.ifaceName ?? '').split(':')[0]!,
        address: nb.ifaceAddress ?? nb.address ?? '',
      });
    }
  }
  return out;
}

/** The daemons of the node that do not answer on their vty socket (empty: all of them do). */
export async function frrDown(model: LabModel, n: ModelNode, dir: string): Promise<FrrDaemon[]> {
  const daemons = frrDaemons(model, n);
  const ok = await Promise.all(daemons.map((d) => frrReady(frrVty(dir, d))));
  return daemons.filter((_, i) => !ok[i]);
}

/** OSPF neighbours from ospfd; null when it does not answer. */
export function frrOspfNeighbors(dir: string): Promise<OspfNeighbor[] | null> {
  return frrCommand(path.join(dir, 'ospfd.vty'), 'show ip ospf neighbor json', 5000).then(parseFrrOspfNeighbors, () => null);
}
