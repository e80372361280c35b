// When the node installs, updates and removes the fail-closed guard (io/guard.ts has the
// kernel side). Kept out of node.ts so the lifecycle only calls three functions:
//   start   applyGuard(..., 'start')   before the first vlink exists
//   reload  applyGuard(..., 'reload')  before any vlink changes (new and leaving vlinks
//                                      allowed), and once more after, when vlinks left
//   stop    removeGuard(...)           clean stop only; a crash leaves the guard in place

import type { Logger } from 'pino';
import type { NodeConfig } from './config-types.js';
import { GUARD_METRIC, GUARD_ROUTE_PROTO, GUARD_TABLE, guardError, type Guard, type GuardSpec } from '../io/guard.js';
import { coveredBy } from './vn-prefixes.js';

export function guardSpecOf(cfg: NodeConfig): GuardSpec | null {
  if (cfg.vnPrefixes === undefined) return null;
  return { prefixes: [...cfg.vnPrefixes], vlinks: cfg.vlinks.map((v) => v.name) };
}

const BY_HAND = `nft delete table inet ${GUARD_TABLE}; ip route flush table main proto ${GUARD_ROUTE_PROTO} type unreachable`;

/**
 * Puts the guard for `cfg` in place and returns its spec (null: no vn_prefixes, no guard).
 * Vlinks named in the new config are allowed before their TUN exists; on a reload, vlinks that
 * are going away stay allowed until they are gone (node.ts reload), since until then they are
 * still TUNs of this daemon. Either way nothing leaves in clear in between.
 */
export async function applyGuard(guard: Guard | undefined, cfg: NodeConfig, prev: GuardSpec | null, phase: 'start' | 'reload', log: Logger): Promise<GuardSpec | null> {
  const spec = guardSpecOf(cfg);
  if (spec === null) {
    if (phase === 'reload' && prev !== null && guard !== undefined) {
      await guard.remove();
      log.warn(`vn_prefixes removed from the config: guard removed; VN traffic is no longer fail-closed while this daemon is down`);
    } else if (phase === 'start') {
      // Without vn_prefixes nft is not needed: a guard that cannot even be read is no reason to stop.
      const stale = guard === undefined ? null : await guard.state().catch(() => null);
      if (stale?.table === true || (stale?.routes.length ?? 0) > 0) {
        log.warn({ table: GUARD_TABLE, prefixes: stale!.prefixes, routes: stale!.routes }, `vn_prefixes is not set, but a guard left by an earlier run is installed and still drops VN traffic that leaves by other interfaces than ${stale!.allowed.join(', ')}; left in place (remove it by hand: ${BY_HAND})`);
      }
      log.warn('vn_prefixes is not set: no guard; VN traffic is not fail-closed when this daemon is down (a covering route, e.g. a default route via the underlay, would carry it in clear)');
    }
    return null;
  }
  if (guard === undefined) throw guardError('apply', 'vn_prefixes is set, but this node was started without a guard implementation');
  const before = await guard.apply(spec);
  const dropped = before.drops.output.packets + before.drops.forward.packets;
  if (phase === 'start' && (before.table || before.routes.length > 0)) {
    log.warn({ table: GUARD_TABLE, droppedPackets: dropped, prefixes: before.prefixes, allowed: before.allowed },
      `replaced a guard left by an earlier run that did not stop cleanly (crash or SIGKILL?); it had dropped ${dropped} VN packets; counters carried over`);
  }
  cfg.vlinks.forEach((v, i) => {
    // address dhcp: the lease is checked when it comes (node-dhcp-client.ts).
    if (v.dhcp?.role !== 'client' && !coveredBy(v.address, spec.prefixes)) log.warn({ vlink: v.name, address: v.address }, `vlinks[${i}].address is outside vn_prefixes: traffic to that link prefix is not guarded`);
  });
  log.info({ table: `inet ${GUARD_TABLE}`, prefixes: spec.prefixes, metric: GUARD_METRIC, allowed: ['lo', ...spec.vlinks] },
    phase === 'start' ? 'guard installed: VN traffic leaves by a vlink or not at all, also while this daemon is down' : 'guard updated');
  return spec;
}

/** Clean stop: the operator asked for the node to go, so its guard goes too. Never throws. */
export async function removeGuard(guard: Guard | undefined, spec: GuardSpec | null, log: Logger): Promise<void> {
  if (spec === null || guard === undefined) return;
  try {
    await guard.remove();
    log.info({ table: `inet ${GUARD_TABLE}` }, 'guard removed (clean stop)');
  } catch (e) {
    log.error({ code: (e as { code?: string }).code, err: (e as Error).message }, `guard could not be removed; remove it by hand: ${BY_HAND}`);
  }
}
