// The KX and IPSECA decisions the cross-check compares: the same code (src/dns/kx.ts, ipseca.ts)
// run over two validators' answers, ours (in the probe) and unbound-host's (in the test). What
// must agree is the decision, not the wording of the DNSSEC reason, so summarise() keeps only
// the former.

import type { Clock } from '../../../src/clock.js';
import { judgeIpseca, ipsecaOwner, type IpsecaDecision } from '../../../src/dns/ipseca.js';
import { proveKxDelegation, resolveExchangers, type DnsLookup, type KxIdentity, type KxList, type KxProof } from '../../../src/dns/kx.js';
import { RRType } from '../../../src/wire/dns/types.js';
import { labKey } from './keys.js';

export interface KxDecisionSpec {
  exchangers: string[];
  proofs: { id: KxIdentity; from: string }[];
  /** Gateway (name or address) and the lab key it presents. */
  ipseca: { gateway: string; key: string }[];
}

export interface KxDecisions {
  exchangers: KxList[];
  proofs: KxProof[];
  ipseca: IpsecaDecision[];
}

/** Good, wrong, bogus and unsigned variants of each decision (see kx-queries.ts). */
export const KX_DECISIONS: KxDecisionSpec = {
  exchangers: ['site-a.overlay.test', 'site-tie.overlay.test', 'site-bx.overlay.test', 'site-gone.overlay.test', 'site.plain.test', 'site.badsig.test', 'b.overlay.test'],
  proofs: [
    { id: { kind: 'fqdn', name: 'site-a.overlay.test' }, from: '10.200.1.1' },
    { id: { kind: 'fqdn', name: 'site-a.overlay.test' }, from: '10.200.1.12' },
    { id: { kind: 'fqdn', name: 'site-a.overlay.test' }, from: '10.200.1.9' },
    { id: { kind: 'fqdn', name: 'site-a.overlay.test' }, from: '10.200.2.1' },
    { id: { kind: 'fqdn', name: 'site.plain.test' }, from: '10.200.2.1' },
    { id: { kind: 'fqdn', name: 'site.badsig.test' }, from: '10.200.10.2' },
    { id: { kind: 'fqdn', name: 'site-bx.overlay.test' }, from: '10.200.10.1' },
    { id: { kind: 'ipv4', address: '10.200.1.1' }, from: '10.200.1.1' },
    { id: { kind: 'ipv4', address: '10.200.1.9' }, from: '10.200.1.9' },
    { id: { kind: 'ipv4', address: '10.200.1.3' }, from: '10.200.1.3' },
  ],
  ipseca: [
    { gateway: 'a.overlay.test', key: 'a' },
    { gateway: 'a.overlay.test', key: 'a2' },
    { gateway: 'a2.overlay.test', key: 'a2' },
    { gateway: 'c.overlay.test', key: 'c' },
    { gateway: 'wrong.overlay.test', key: 'wrong' },
    { gateway: 'certonly.overlay.test', key: 'a' },
    { gateway: 'nope.overlay.test', key: 'a' },
    { gateway: 'a.plain.test', key: 'a' },
    { gateway: 'b.badsig.test', key: 'a' },
    { gateway: '10.200.1.1', key: 'a' },
  ],
};

export async function runKxDecisions(lookup: DnsLookup, clock: Clock, spec: KxDecisionSpec): Promise<KxDecisions> {
  const exchangers: KxList[] = [];
  for (const d of spec.exchangers) exchangers.push(await resolveExchangers(lookup, d, clock));
  const proofs: KxProof[] = [];
  for (const p of spec.proofs) proofs.push(await proveKxDelegation(lookup, p.id, p.from));
  const ipseca: IpsecaDecision[] = [];
  for (const g of spec.ipseca) {
    const owner = ipsecaOwner(g.gateway);
    ipseca.push(judgeIpseca(owner, await lookup(owner, RRType.IPSECA), labKey(g.key).spki));
  }
  return { exchangers, proofs, ipseca };
}

/** One line per decision, without reason texts: what two validators must agree on. */
export function summarise(d: KxDecisions): string[] {
  return [
    ...d.exchangers.map((l) => `KX ${l.domain} ${l.verdict} ok=${l.ok} ` + l.exchangers.map((x) => `${x.preference}:${x.name}:${x.verdict}:${x.addresses.join('+') || '-'}`).join(' ')),
    ...d.proofs.map((p) => `proof ${p.reason.split(' ').slice(3, 4)} ${p.via} proven=${p.proven} bogus=${p.bogus} ${p.domain ?? '-'} ${p.exchanger ? `${p.exchanger.preference}:${p.exchanger.name}` : '-'}`),
    ...d.ipseca.map((i) => `IPSECA ${i.owner} ${i.verdict} ${i.outcome} ${i.case} ${i.matched ?? '-'} ${i.records.map((r) => `${r.record.slice(0, 5)}:${r.usable}`).sort().join(',')}`),
  ];
}
