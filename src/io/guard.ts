// The fail-closed guard: kernel state that keeps VN traffic off every interface but a vlink,
// and that outlives the daemon. Two independent layers, so neither a missing route nor a
// surprising one lets a VN packet leave in clear:
//
//   1. `unreachable` routes for every VN prefix in the main table, at GUARD_METRIC. A vlink
//      route is more specific or has a lower metric and wins; a less specific covering route
//      (a default route via the underlay) loses to them. When the vlink routes vanish
//      (daemon killed, TUN recreated, OSPF withdrawal) the sender gets "unreachable".
//   2. nftables table `inet iiptran_guard`: output and forward hooks drop, and count, packets
//      to a VN prefix whose output interface is neither lo nor a vlink of this node. This
//      catches what routing cannot: a same-prefix underlay route with a lower metric, another
//      routing table selected by a policy rule, a socket bound to the underlay interface.
//
// Shelled out to `nft` and `ip` on purpose (setup time only, never on a packet path): they
// are what an operator uses to inspect and, after a crash, to remove the guard by hand, and
// `nft -f -` applies the whole table in one kernel transaction.

import { execFile } from 'node:child_process';
import { IiptranError } from '../errors.js';

export const GUARD_TABLE = 'iiptran_guard';
/**
 * Above any metric a routing daemon, DHCP client or distribution script uses (kernel and
 * static 0, FRR 20, BIRD 32, NetworkManager 100..20000, dhcpcd 1000+), below the 2^32-1
 * maximum. Metrics only decide between routes of the same prefix.
 */
export const GUARD_METRIC = 4_000_000_000;
/** rtnetlink protocol id marking our routes (unassigned in rt_protos; 73 is ASCII "I"). */
export const GUARD_ROUTE_PROTO = 73;

export interface GuardSpec {
  /** Canonical IPv4 and IPv6 prefixes (`vn_prefixes`). */
  prefixes: string[];
  /** Interfaces VN traffic may leave by: this node's vlinks. `lo` is always allowed. */
  vlinks: string[];
}

export interface DropCount {
  packets: number;
  bytes: number;
}

/** What the kernel holds now; read back, never remembered. */
export interface GuardState {
  /** The nft table exists. */
  table: boolean;
  /** Prefixes that have our unreachable route in the main table. */
  routes: string[];
  /** The table's sets. */
  prefixes: string[];
  allowed: string[];
  drops: { output: DropCount; forward: DropCount };
}

export interface Guard {
  /** Install, or replace in one transaction (a stale guard left by a crashed run included). Returns what was there before. */
  apply(spec: GuardSpec): Promise<GuardState>;
  /** Remove the table and our routes: a clean stop only. */
  remove(): Promise<void>;
  state(): Promise<GuardState>;
}

export function guardError(what: string, detail: string, cause?: unknown): IiptranError {
  return new IiptranError('IIPTRAN_ERR_GUARD', `guard: ${what}: ${detail}`, cause === undefined ? {} : { cause });
}

const ZERO: DropCount = { packets: 0, bytes: 0 };

export function emptyGuardState(): GuardState {
  return { table: false, routes: [], prefixes: [], allowed: [], drops: { output: { ...ZERO }, forward: { ...ZERO } } };
}

/**
 * The whole table as one `nft -f` script. Adding then deleting the table first makes the
 * script work whether or not one exists, and the kernel applies all of it or none of it, so a
 * reload's new vlink set replaces the old one with no moment in between. Counters are carried
 * over from `carry`, so drops seen while no daemon ran stay visible.
 */
export function guardNftScript(spec: GuardSpec, carry: GuardState['drops']): string {
  const oifs = ['lo', ...spec.vlinks.filter((v) => v !== 'lo')].map((n) => `"${n}"`).join(', ');
  const c = (d: DropCount) => `packets ${d.packets} bytes ${d.bytes}`;
  const v4 = spec.prefixes.filter((p) => !p.includes(':'));
  const v6 = spec.prefixes.filter((p) => p.includes(':'));
  // One rule per family with prefixes; both bump the same named counter.
  const rule = (counter: string) => [
    ...(v4.length > 0 ? [`ip daddr @vn_prefixes oifname != @allowed_oifs counter name ${counter} drop`] : []),
    ...(v6.length > 0 ? [`ip6 daddr @vn_prefixes6 oifname != @allowed_oifs counter name ${counter} drop`] : []),
  ].join('; ');
  return [
    `add table inet ${GUARD_TABLE}`,
    `delete table inet ${GUARD_TABLE}`,
    `table inet ${GUARD_TABLE} {`,
    `  counter drop_output { ${c(carry.output)} }`,
    `  counter drop_forward { ${c(carry.forward)} }`,
    ...(v4.length > 0 ? [`  set vn_prefixes { type ipv4_addr; flags interval; elements = { ${v4.join(', ')} } }`] : []),
    ...(v6.length > 0 ? [`  set vn_prefixes6 { type ipv6_addr; flags interval; elements = { ${v6.join(', ')} } }`] : []),
    `  set allowed_oifs { type ifname; elements = { ${oifs} } }`,
    `  chain output { type filter hook output priority 0; policy accept; ${rule('drop_output')}; }`,
    `  chain forward { type filter hook forward priority 0; policy accept; ${rule('drop_forward')}; }`,
    `}`,
    '',
  ].join('\n');
}

type Obj = Record<string, unknown>;

/** `nft -j list table inet iiptran_guard` → the parts of GuardState it holds. */
export function parseNftTable(json: string): Omit<GuardState, 'routes'> {
  const { routes: _, ...st } = emptyGuardState();
  const items = ((JSON.parse(json) as Obj)['nftables'] ?? []) as Obj[];
  const elems = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
  for (const it of items) {
    if (it['table'] !== undefined) st.table = true;
    const ctr = it['counter'] as Obj | undefined;
    if (ctr !== undefined && (ctr['name'] === 'drop_output' || ctr['name'] === 'drop_forward')) {
      st.drops[ctr['name'] === 'drop_output' ? 'output' : 'forward'] = { packets: Number(ctr['packets'] ?? 0), bytes: Number(ctr['bytes'] ?? 0) };
    }
    const set = it['set'] as Obj | undefined;
    if (set?.['name'] === 'vn_prefixes' || set?.['name'] === 'vn_prefixes6') {
      for (const e of elems(set['elem'])) {
        if (typeof e === 'string') st.prefixes.push(`${e}/${set['name'] === 'vn_prefixes6' ? 128 : 32}`);
        else {
          const p = (e as Obj)['prefix'] as Obj | undefined;
          if (p !== undefined) st.prefixes.push(`${String(p['addr'])}/${String(p['len'])}`);
        }
      }
    }
    if (set?.['name'] === 'allowed_oifs') for (const e of elems(set['elem'])) if (typeof e === 'string') st.allowed.push(e);
  }
  return st;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = execFile(cmd, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      if (e !== null && typeof e.code === 'string') {
        reject(guardError(`cannot run ${cmd}`, e.code === 'ENOENT' ? `${cmd} is not installed (Debian: apt-get install ${cmd === 'nft' ? 'nftables' : 'iproute2'})` : e.message, e));
        return;
      }
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, stdout, stderr });
    });
    if (input !== undefined) p.stdin?.end(input);
  });
}

/** The real guard, acting on the network namespace the daemon runs in. */
export class OsGuard implements Guard {
  async state(): Promise<GuardState> {
    const t = await run('nft', ['-j', 'list', 'table', 'inet', GUARD_TABLE]);
    let st = emptyGuardState();
    if (t.code === 0) st = { ...parseNftTable(t.stdout), routes: [] };
    else if (!/No such file or directory/.test(t.stderr)) throw guardError('reading the nft table', t.stderr.trim());
    st.routes = await this.routes();
    return st;
  }

  private async routes(): Promise<string[]> {
    const out: string[] = [];
    for (const fam of ['-4', '-6']) {
      const r = await run('ip', ['-j', fam, 'route', 'show', 'table', 'main', 'proto', String(GUARD_ROUTE_PROTO), 'type', 'unreachable']);
      if (r.code !== 0) throw guardError('reading routes', r.stderr.trim());
      const list = r.stdout.trim() === '' ? [] : (JSON.parse(r.stdout) as { dst: string }[]);
      out.push(...list.map((x) => (x.dst.includes('/') ? x.dst : `${x.dst}/${fam === '-6' ? 128 : 32}`)));
    }
    return out;
  }

  async apply(spec: GuardSpec): Promise<GuardState> {
    if (spec.prefixes.length === 0) throw guardError('apply', 'no prefixes to guard');
    const before = await this.state();
    const n = await run('nft', ['-f', '-'], guardNftScript(spec, before.drops));
    if (n.code !== 0) throw guardError(`installing nft table inet ${GUARD_TABLE}`, n.stderr.trim());
    // Replace before delete: a prefix that stays is never without its route.
    const lines = spec.prefixes.map((p) => `route replace unreachable ${p} table main proto ${GUARD_ROUTE_PROTO} metric ${GUARD_METRIC}`);
    for (const p of before.routes) if (!spec.prefixes.includes(p)) lines.push(`route del unreachable ${p} table main proto ${GUARD_ROUTE_PROTO}`);
    const r = await run('ip', ['-batch', '-'], lines.join('\n') + '\n');
    if (r.code !== 0) throw guardError('installing unreachable routes', r.stderr.trim());
    return before;
  }

  async remove(): Promise<void> {
    const n = await run('nft', ['delete', 'table', 'inet', GUARD_TABLE]);
    if (n.code !== 0 && !/No such file or directory/.test(n.stderr)) throw guardError(`removing nft table inet ${GUARD_TABLE}`, n.stderr.trim());
    const routes = await this.routes();
    if (routes.length === 0) return;
    const r = await run('ip', ['-batch', '-'], routes.map((p) => `route del unreachable ${p} table main proto ${GUARD_ROUTE_PROTO}`).join('\n') + '\n');
    if (r.code !== 0) throw guardError('removing unreachable routes', r.stderr.trim());
  }
}
