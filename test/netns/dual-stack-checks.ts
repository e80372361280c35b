// Checks shared by the dual-stack lab tests (lab-dual-stack*.test.ts): both ping matrices, an
// IPv6 ping, and an underlay cut that must reroute both families, each family's outage measured.

import assert from 'node:assert/strict';
import { cli, node, pingStream, routeDev, vnPing, waitFor } from './lab-harness.js';
import { pingMatrix, pingPlan } from '../../src/lab/converge.js';
import { pingMatrix6 } from '../../src/lab/status6.js';
import { nsExec } from '../../src/lab/netns.js';
import type { LabState } from '../../src/lab/state.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export async function ping6(s: LabState, from: string, to: string, count = 3): Promise<number> {
  const a = node(s, from);
  const r = await nsExec(a.ns, ['ping', '-6', '-c', String(count), '-i', '0.05', '-W', '2', '-I', a.vnAddr6!, node(s, to).vnAddr6!], { allowFail: true });
  return Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
}

/** Every node reaches every other over IPv4 and over IPv6. */
export async function bothMatrices(s: LabState): Promise<void> {
  const reach = await pingMatrix(s);
  const reach6 = await pingMatrix6(s, pingPlan(s));
  const others = s.model.nodes.length - 1;
  for (const n of s.model.nodes) {
    assert.equal(reach.get(n.name)!.length, others, `IPv4: ${n.name} reaches ${reach.get(n.name)}`);
    assert.equal(reach6.get(n.name)!.length, others, `IPv6: ${n.name} reaches ${reach6.get(n.name)}`);
  }
}

/** OSPFv2 and OSPFv3 Full on every vlink as `lab status --json` reports them. */
export async function bothOspfFull(name: string): Promise<Obj> {
  const st = JSON.parse((await cli(['lab', 'status', name, '--json'])).stdout) as Obj;
  for (const v of st.vlinks) assert.match(`${v.ospfA} ${v.ospfB} ${v.ospf6A} ${v.ospf6B}`, /^Full\S* Full\S* Full\S* Full/, `${v.a}-${v.b}`);
  return st;
}

/**
 * Cuts the A-B underlay under an IPv4 and an IPv6 ping stream, waits until both families route
 * A->B through C, prints the outage of each (`MEASURED <label> ...`), restores the path and
 * waits for both to come back to vl-b.
 */
export async function cutRerouteBoth(s: LabState, name: string, label: string): Promise<{ v4: number; v6: number }> {
  for (const f of [4, 6] as const) assert.equal(await routeDev(s, 'a', 'b', f), 'vl-b');
  const s4 = pingStream(s, 'a', 'b', 4);
  const s6 = pingStream(s, 'a', 'b', 6);
  await new Promise((r) => setTimeout(r, 1000));
  const t0 = Date.now();
  assert.equal((await cli(['lab', 'link', 'a', 'b', 'down', '--lab', name])).code, 0);
  const moved: Record<number, number> = {};
  await waitFor(async () => {
    for (const f of [4, 6] as const) if (moved[f] === undefined && (await routeDev(s, 'a', 'b', f)) === 'vl-c') moved[f] = Date.now() - t0;
    return moved[4] !== undefined && moved[6] !== undefined;
  }, 'A->B routes of both families via vl-c', 20000);
  await new Promise((r) => setTimeout(r, 1500));
  const [r4, r6] = [await s4.stop(), await s6.stop()];
  console.log(`MEASURED ${label} failover outage: IPv4 ${r4.outageMs} ms (${r4.replies}/${r4.sent}), IPv6 ${r6.outageMs} ms (${r6.replies}/${r6.sent}); routes moved after ${moved[4]} / ${moved[6]} ms`);
  for (const r of [r4, r6]) {
    assert.ok(r.outageMs > 0 && r.replies > 50, JSON.stringify(r));
    assert.ok(r.outageMs < 5000, `outage ${r.outageMs} ms`);
  }
  assert.equal(await vnPing(s, 'a', 'b'), 3, 'IPv4 A->B works through C');
  assert.equal(await ping6(s, 'a', 'b'), 3, 'IPv6 A->B works through C');
  const routes = JSON.parse((await cli(['lab', 'show', 'a', 'routes', '--json', '--lab', name])).stdout) as Obj;
  assert.equal(routes.routes.find((x: Obj) => x.dst === node(s, 'b').vn6).vlink, 'vl-c', 'lab show routes: IPv6 route now via vl-c');

  const t1 = Date.now();
  assert.equal((await cli(['lab', 'link', 'a', 'b', 'up', '--lab', name])).code, 0);
  await waitFor(async () => (await routeDev(s, 'a', 'b', 4)) === 'vl-b' && (await routeDev(s, 'a', 'b', 6)) === 'vl-b', 'A->B back on vl-b, both families', 30000);
  console.log(`MEASURED ${label} direct path restored after: ${Date.now() - t1} ms`);
  assert.equal(await vnPing(s, 'a', 'b'), 3);
  assert.equal(await ping6(s, 'a', 'b'), 3);
  return { v4: r4.outageMs, v6: r6.outageMs };
}
