// The sites' part of `lab dns NAME show`: per site its KX records and gateways, each record with
// the state it is served in (secure, bogus, insecure, absent, wrong key), and the delv and
// unbound-host command lines that check them from a node's namespace.

import { dnsFiles, type LabDnsState } from './dns-service.js';
import { sitesSpec } from './kx-dns-state.js';
import { IPSECA_TYPE, ipsecaName } from './kx-zone.js';
import type { LabState } from './state.js';

export interface SiteView {
  name: string;
  domain: string;
  /** How the site's records are served: secure, or insecure because the site or the whole zone is unsigned. */
  signed: string;
  kx: { records: string[]; state: string };
  gateways: {
    node: string;
    fqdn: string;
    role: 'gateway' | 'impostor';
    /** Its preference in the KX records served now (null: not an exchanger). */
    preference: number | null;
    address: string;
    ipseca: { owner: string; record: string | null; state: string };
  }[];
  check: { kx: { delv: string; unboundHost: string }; ipseca: { delv: string; unboundHost: string } };
}

const IPSECA_STATE: Record<string, string> = {
  wrong: 'secure, WRONG key (matches no gateway key)',
  bogus: 'bogus (RRSIG corrupted)',
  absent: 'absent (secure NXDOMAIN)',
  unsign: 'insecure (own unsigned zone, no DS)',
};

export function sitesView(s: LabState, st: LabDnsState, from: string): SiteView[] {
  const dns = s.model.dns!;
  const spec = sitesSpec(s.model, st.kx!);
  const f = dnsFiles(st.dir);
  const delv = (name: string, type: string) => `iiptran lab exec ${from} -- delv -a ${f.delv} +root=${dns.parent}. @${dns.address} ${name} ${type}`;
  const unbound = (name: string, type: string) => `iiptran lab exec ${from} -- unbound-host -v -f ${f.anchor} -C ${f.unbound} -t ${type} ${name}`;
  return spec.sites.map((site) => {
    const m = s.model.sites!.find((x) => x.name === site.name)!;
    const insecure = !st.signed ? 'insecure (zone unsigned)' : site.unsigned ? 'insecure (site unsigned: own zone, no DS)' : null;
    const hosts = spec.hosts.filter((h) => h.site === site.name);
    return {
      name: site.name,
      domain: site.domain,
      signed: insecure ?? 'secure',
      kx: {
        records: site.kx.map((k) => `${site.domain}. KX ${k.preference} ${k.exchanger}.`),
        state: insecure ?? (site.kxBogus ? 'bogus (RRSIG corrupted)' : site.kx.length === 0 ? 'none (secure NODATA)' : 'secure'),
      },
      gateways: hosts.map((h) => ({
        node: st.kx!.hosts[h.fqdn]!.node,
        fqdn: h.fqdn,
        role: m.impostors.some((i) => i.fqdn === h.fqdn) ? ('impostor' as const) : ('gateway' as const),
        preference: site.kx.find((k) => k.exchanger === h.fqdn)?.preference ?? null,
        address: h.address,
        ipseca: {
          owner: ipsecaName(h.fqdn),
          record: h.mode === 'absent' ? null : `${IPSECA_TYPE} ${h.rdata}`,
          state: (h.mode === 'unsign' ? IPSECA_STATE['unsign'] : insecure) ?? (h.mode === null ? 'secure, matches its key' : IPSECA_STATE[h.mode]!),
        },
      })),
      check: {
        kx: { delv: delv(site.domain, 'KX'), unboundHost: unbound(site.domain, 'KX') },
        ipseca: { delv: delv(ipsecaName(hosts[0]?.fqdn ?? site.domain), IPSECA_TYPE), unboundHost: unbound(ipsecaName(hosts[0]?.fqdn ?? site.domain), IPSECA_TYPE) },
      },
    };
  });
}

export function renderSites(sites: SiteView[]): string[] {
  const out: string[] = [];
  for (const s of sites) {
    out.push(`site ${s.name}: ${s.domain}. (${s.signed}); KX ${s.kx.state}`);
    for (const r of s.kx.records) out.push(`  ${r}`);
    for (const g of s.gateways) {
      out.push(`  ${g.fqdn}.\tA ${g.address}\t${g.role === 'impostor' ? 'IMPOSTOR (claims the site, not in KX)' : g.preference === null ? 'not in KX' : `KX ${g.preference}`}`);
      out.push(`    ${g.ipseca.owner}.\t${g.ipseca.record ?? '(none)'}\t${g.ipseca.state}`);
    }
    out.push(`  check: ${s.check.kx.delv}`, `         ${s.check.ipseca.unboundHost}`);
  }
  return [...out, ''];
}
