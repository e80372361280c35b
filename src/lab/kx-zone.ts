// The sites' records in the lab zone, as text, no I/O (issue #8): per site its KX records, per
// gateway (and impostor) an A record and an IPSECA record at _500.<name>; and what `lab dns`
// changes in them: a KX record removed or altered, a wrong or absent IPSECA, a bogus KX or
// IPSECA RRset (its RRSIG corrupted after signing), and unsigned subzones (a whole site, or one
// gateway's _500 name) delegated without DS, which the lab zone's signed NSEC proves insecure.

import type { ModelDns } from './dns-model.js';
import { corruptRrsig, zoneHeader } from './dns-zone.js';

/** IPSECA's type code; ldns, NSD, delv and unbound know it only as TYPE65347. */
export const IPSECA_TYPE = 'TYPE65347';

export type IpsecaMode = 'wrong' | 'bogus' | 'absent' | 'unsign';
export const IPSECA_MODES: readonly IpsecaMode[] = ['wrong', 'bogus', 'absent', 'unsign'];

export interface KxRecord {
  preference: number;
  /** The exchanger's name, no final dot. */
  exchanger: string;
}

export interface SiteSpec {
  name: string;
  domain: string;
  kx: KxRecord[];
  /** The KX RRset's RRSIG corrupted: bogus. */
  kxBogus: boolean;
  /** The site is its own zone, served unsigned and delegated without DS: everything in it is insecure. */
  unsigned: boolean;
}

export interface HostSpec {
  /** <node>.<site>.<zone>, no final dot. */
  fqdn: string;
  site: string;
  address: string;
  /** The IPSECA RDATA served, generic form (`\# 35 030101...`): the node's own key's, or a wrong one. */
  rdata: string;
  mode: IpsecaMode | null;
}

/** The sites' part of a ZoneSpec. */
export interface SitesSpec {
  sites: SiteSpec[];
  hosts: HostSpec[];
}

const dot = (n: string) => `${n}.`;
export const ipsecaName = (fqdn: string) => `_500.${fqdn}`;

function hostLines(h: HostSpec, signedParent: boolean): string[] {
  const out = [`${dot(h.fqdn)} A ${h.address}`];
  if (h.mode === 'absent') return out;
  // An unsigned _500 zone is only a change in a signed parent; inside an unsigned site it would be insecure anyway.
  if (h.mode === 'unsign' && signedParent) return [...out, `${dot(ipsecaName(h.fqdn))} NS NSNAME`];
  return [...out, `${dot(ipsecaName(h.fqdn))} ${IPSECA_TYPE} ${h.rdata}`];
}

/** The sites' lines in the lab zone: KX and host records, or the delegations of unsigned subzones. */
export function siteZoneLines(dns: ModelDns, spec: SitesSpec): string {
  const lines: string[] = [];
  for (const s of spec.sites) {
    if (s.unsigned) {
      lines.push(`${dot(s.domain)} NS ${dot(dns.nsName)}`);
      continue;
    }
    for (const k of s.kx) lines.push(`${dot(s.domain)} KX ${k.preference} ${dot(k.exchanger)}`);
    for (const h of spec.hosts.filter((x) => x.site === s.name)) lines.push(...hostLines(h, true));
  }
  return lines.map((l) => l.replace('NSNAME', dot(dns.nsName))).join('\n') + (lines.length > 0 ? '\n' : '');
}

/** Zones the sites add, each served unsigned: unsigned sites, then unsigned _500 names of gateways in signed sites. */
export function siteSubzones(dns: ModelDns, spec: SitesSpec, serial: number): { zone: string; text: string }[] {
  const out: { zone: string; text: string }[] = [];
  for (const s of spec.sites.filter((x) => x.unsigned)) {
    let text = zoneHeader(s.domain, dns, serial);
    for (const k of s.kx) text += `@ KX ${k.preference} ${dot(k.exchanger)}\n`;
    for (const h of spec.hosts.filter((x) => x.site === s.name)) text += hostLines(h, false).join('\n') + '\n';
    out.push({ zone: s.domain, text });
  }
  const signedSites = new Set(spec.sites.filter((s) => !s.unsigned).map((s) => s.name));
  for (const h of spec.hosts.filter((x) => x.mode === 'unsign' && signedSites.has(x.site))) {
    out.push({ zone: ipsecaName(h.fqdn), text: zoneHeader(ipsecaName(h.fqdn), dns, serial) + `@ ${IPSECA_TYPE} ${h.rdata}\n` });
  }
  return out;
}

/** After signing: the RRSIGs over bogus KX and IPSECA RRsets corrupted. Returns what could not be found. */
export function breakSiteRrsigs(signed: string, spec: SitesSpec): { text: string; missing: string[] } {
  let text = signed;
  const missing: string[] = [];
  for (const s of spec.sites.filter((x) => x.kxBogus && !x.unsigned)) {
    const r = corruptRrsig(text, s.domain, 'KX');
    if (r.changed === 0) missing.push(`${s.domain} KX`);
    text = r.text;
  }
  const unsignedSites = new Set(spec.sites.filter((s) => s.unsigned).map((s) => s.name));
  for (const h of spec.hosts.filter((x) => x.mode === 'bogus' && !unsignedSites.has(x.site))) {
    // ldns prints the covered type as TYPE65347; accept the mnemonic too, should a later ldns know it.
    let r = corruptRrsig(text, ipsecaName(h.fqdn), IPSECA_TYPE);
    if (r.changed === 0) r = corruptRrsig(text, ipsecaName(h.fqdn), 'IPSECA');
    if (r.changed === 0) missing.push(`${ipsecaName(h.fqdn)} IPSECA`);
    text = r.text;
  }
  return { text, missing };
}
