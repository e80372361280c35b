// `iiptran show dhcp` as text: each DHCP client's state and lease (address, server, T1, T2,
// expiry), then the relay's view (leases it routes per vlink, its counters).

import { table } from '../lab/table.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function kv(o: Obj | undefined): string {
  const e = Object.entries(o ?? {});
  return e.length === 0 ? '-' : e.map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');
}

const inS = (n: number | null | undefined) => (n === null || n === undefined ? '-' : `${n} s`);

export function renderDhcp(v: Obj): string {
  const out: string[] = [];
  if (v.clients.length === 0) out.push('no DHCP client (no vlink has address: dhcp)');
  else {
    out.push(
      table(
        ['VLINK', 'STATE', 'ADDRESS', 'SERVER', 'LEASE', 'T1 IN', 'T2 IN', 'EXPIRES IN', 'EXPIRES AT', 'ON TUN'],
        v.clients.map((c: Obj) => {
          const l = c.lease;
          return [c.vlink, c.state, l?.address ?? '-', l?.server ?? '-', l ? `${l.lease_time} s` : '-', inS(l?.t1_in_s), inS(l?.t2_in_s), inS(l?.expires_in_s), l?.expires_at ?? '-', c.installed ?? '-'];
        }),
      ),
    );
    for (const c of v.clients) {
      out.push(`${c.vlink}: chaddr ${c.chaddr} (htype 31), client-id ${c.client_id}; sent ${kv(c.sent)}; drops ${kv(c.drops)}; acquired ${c.events.acquired}, renewed ${c.events.renewed}, declined ${c.events.declined}, lost ${kv(c.events.lost)}`);
    }
  }
  const r = v.relay;
  if (r === null) out.push('', 'no DHCP relay (no dhcp_relay in the config)');
  else {
    out.push('', `relay ${r.address} -> servers ${r.servers.join(', ')}; serves ${r.served_vlinks.join(', ')}; routes: metric ${r.route_metric}, ${r.route_errors} failed changes`);
    out.push(table(['LEASE (ROUTED /32)', 'VLINK', 'CHADDR', 'EXPIRES IN'], r.bindings.map((b: Obj) => [b.address, b.vlink, b.chaddr, `${b.expires_in_s} s`])));
    out.push(table(['VLINK', 'PEER IDENTITY (remote-id)', 'RELAYED', 'DELIVERED', 'RATE-LIMITED'], Object.entries(r.vlinks as Obj).map(([n, x]: [string, Obj]) => [n, x.identity, x.relayed, x.delivered, x.rate_limited ?? 0])));
    out.push(`relay drops: ${kv(r.drops)}`);
  }
  out.push(`node drops: ${kv(v.drops)}`);
  return out.join('\n');
}
