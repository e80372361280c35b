// `iiptran lab dns NAME kx|ipseca|unsign SITE`: the changes a site lab's tests make to what its
// DNS service publishes (issue #8): a site's KX records removed, altered or made bogus; a
// gateway's IPSECA wrong, absent, bogus or in an unsigned subzone; a whole site unsigned. Each is
// re-signed and served before the command returns (dns-service.ts `publish`), and each says what
// a validator concludes, as test/netns/lab-kx.test.ts checks with delv and unbound-host.

import { generateKeyPairSync } from 'node:crypto';
import { IiptranError } from '../errors.js';
import { publish, requireDns, type PublishResult } from './dns-service.js';
import { ipsecaRdata, modelKx, type KxDnsState } from './kx-dns-state.js';
import { IPSECA_MODES, ipsecaName, type IpsecaMode, type KxRecord } from './kx-zone.js';
import type { ModelSite } from './kx-sites.js';
import type { LabState } from './state.js';

export const KX_ACTIONS = ['remove', 'set', 'bogus', 'restore'] as const;
export type KxAction = (typeof KX_ACTIONS)[number];

export interface KxChange extends PublishResult {
  action: 'kx' | 'ipseca' | 'unsign-site';
  /** The site's domain (kx, unsign-site) or the gateway's IPSECA owner (ipseca). */
  target: string;
  mode: string;
  /** The records at the target as served now, presentation form. */
  records: string[];
  effect: string;
}

const usage = (msg: string) => new IiptranError('IIPTRAN_ERR_USAGE', msg);

function requireSites(s: LabState): { k: KxDnsState; sites: ModelSite[]; signed: boolean } {
  const { st } = requireDns(s);
  if (s.model.sites === undefined || st.kx === undefined) throw usage(`lab ${s.name} has no sites (its topology has no sites: section)`);
  return { k: st.kx, sites: s.model.sites, signed: st.signed };
}

/** A site by name or domain. */
export function siteArg(s: LabState, arg: string): ModelSite {
  const { sites } = requireSites(s);
  const a = arg.toLowerCase().replace(/\.$/, '');
  const site = sites.find((x) => x.name === a || x.domain === a);
  if (site === undefined) throw usage(`"${arg}" is not a site of lab ${s.name} (sites: ${sites.map((x) => `${x.name} (${x.domain})`).join(', ')})`);
  return site;
}

/** A gateway or impostor by node name, by its name in the zone, or by its IPSECA owner. */
export function gatewayArg(s: LabState, arg: string): { fqdn: string; node: string; site: string; rdata: string } {
  const { k } = requireSites(s);
  const a = arg.toLowerCase().replace(/\.$/, '').replace(/^_500\./, '');
  const hit = Object.entries(k.hosts).find(([fqdn, h]) => fqdn === a || h.node === a);
  if (hit === undefined) throw usage(`"${arg}" is not a gateway of a site (gateways: ${Object.entries(k.hosts).map(([f, h]) => `${h.node} (${f})`).join(', ')})`);
  return { fqdn: hit[0], ...hit[1] };
}

const kxLines = (site: ModelSite, kx: KxRecord[]) => kx.map((r) => `${site.domain}. KX ${r.preference} ${r.exchanger}.`);

function needSigned(s: LabState, signed: boolean, k: KxDnsState, site: string, what: string): void {
  if (!signed) throw usage(`zone ${s.model.dns!.zone}. is served unsigned (lab dns ${s.name} unsign): ${what} needs signatures; run \`iiptran lab dns ${s.name} restore\` first`);
  if (k.unsignedSites.includes(site)) throw usage(`site ${site} is served unsigned (lab dns ${s.name} unsign ${site}): ${what} needs signatures; run \`iiptran lab dns ${s.name} kx ${site} restore\` or \`restore\` first`);
}

/**
 * `kx SITE remove [GATEWAY]` (that exchanger's record, or all of them), `kx SITE set GATEWAY
 * PREF` (a record's preference, or a new record; GATEWAY is a node of the site or any name in
 * the zone), `kx SITE bogus` (the RRset's RRSIG corrupted), `kx SITE restore` (the topology's
 * records, signed, the site signed again).
 */
export async function changeKx(s: LabState, siteName: string, action: string, gateway?: string, pref?: string): Promise<KxChange> {
  const { k, signed } = requireSites(s);
  const site = siteArg(s, siteName);
  if (!(KX_ACTIONS as readonly string[]).includes(action)) throw usage(`kx action must be one of ${KX_ACTIONS.join(', ')} (got "${action}")`);
  const exchanger = (g: string) => {
    const member = [...site.gateways, ...site.impostors].find((x) => x.node === g.toLowerCase());
    if (member !== undefined) return member.fqdn;
    if (!g.includes('.')) throw usage(`"${g}" is not a gateway of site ${site.name} (${site.gateways.map((x) => x.node).join(', ')}); give a node of the site or a full name`);
    return g.toLowerCase().replace(/\.$/, '');
  };
  const current = [...(k.kx[site.name] ?? [])];
  let next = current;
  let effect: string;
  if (action === 'remove') {
    if (gateway === undefined) {
      next = [];
      effect = `${site.domain}. has no KX record: a secure NODATA, so no exchanger is known and no IKE is started to the site`;
    } else {
      const name = exchanger(gateway);
      next = current.filter((r) => r.exchanger !== name);
      if (next.length === current.length) throw usage(`site ${site.name} has no KX record naming ${name}. (its records: ${kxLines(site, current).join('; ') || 'none'})`);
      effect = `${name}. is no exchanger of ${site.domain}. any more (secure): initiators skip it, and a responder refuses its claim to the site (KX delegation not proven)`;
    }
  } else if (action === 'set') {
    if (gateway === undefined || pref === undefined) throw usage(`kx ${site.name} set needs GATEWAY and PREFERENCE, e.g. lab dns ${s.name} kx ${site.name} set ${site.gateways[0]!.node} 30`);
    const p = Number(pref);
    if (!/^\d+$/.test(pref) || p > 65535) throw usage(`KX preference must be an integer 0..65535 (got "${pref}")`);
    const name = exchanger(gateway);
    next = [...current.filter((r) => r.exchanger !== name), { preference: p, exchanger: name }].sort((x, y) => x.preference - y.preference || x.exchanger.localeCompare(y.exchanger));
    effect = `${site.domain}. KX ${p} ${name}. (secure): initiators try the exchangers in preference order at their next KX read (within the TTL)`;
  } else if (action === 'bogus') {
    needSigned(s, signed, k, site.name, 'a bogus KX');
    if (current.length === 0) throw usage(`site ${site.name} has no KX record to make bogus (lab dns ${s.name} kx ${site.name} remove); run \`iiptran lab dns ${s.name} kx ${site.name} restore\` first`);
    effect = `the RRSIG over ${site.domain}. KX is corrupted: bogus, so no IKE is started to the site and a responder cannot prove a claim to it`;
  } else effect = `${site.domain}. KX back to the topology's records, signed: secure`;
  const r = await publish(s, (st) => {
    const x = st.kx!;
    if (action === 'bogus') x.kxBogus = [...new Set([...x.kxBogus, site.name])];
    else if (action === 'restore') {
      x.kx[site.name] = modelKx(s.model)[site.name]!;
      x.kxBogus = x.kxBogus.filter((n) => n !== site.name);
      x.unsignedSites = x.unsignedSites.filter((n) => n !== site.name);
    } else x.kx[site.name] = next;
  });
  return { ...r, action: 'kx', target: site.domain, mode: action, records: kxLines(site, requireSites(s).k.kx[site.name]!), effect };
}

const IPSECA_EFFECT: Record<IpsecaMode | 'restore', string> = {
  wrong: "secure, but its digest is of another key: the gateway's real key matches no usable record, so IKE_AUTH fails with AUTHENTICATION_FAILED",
  bogus: 'the RRSIG over it is corrupted: bogus, so the initiator does not start IKE (or aborts it), and a responder aborts',
  absent: 'removed: a secure NXDOMAIN, so there is no usable record; with no peer_public_key configured, the vlink is refused',
  unsign: 'its own zone, served unsigned and delegated with no DS (the signed NSEC at the cut proves it): insecure, so the record is unusable and the vlink is refused',
  restore: "the gateway's own key again, signed: secure, and it matches",
};

/** `ipseca GATEWAY wrong|bogus|absent|unsign|restore`. */
export async function changeIpseca(s: LabState, gatewayName: string, mode: string): Promise<KxChange> {
  const { k, signed } = requireSites(s);
  const gw = gatewayArg(s, gatewayName);
  if (mode !== 'restore' && !(IPSECA_MODES as readonly string[]).includes(mode)) throw usage(`ipseca mode must be one of ${[...IPSECA_MODES, 'restore'].join(', ')} (got "${mode}")`);
  if (mode === 'bogus' || mode === 'unsign') needSigned(s, signed, k, gw.site, `ipseca ${mode}`);
  let rdata: string | undefined;
  if (mode === 'wrong') {
    // A key nobody holds: the record stays well formed and secure, and matches nothing.
    const { publicKey } = generateKeyPairSync('ed25519');
    rdata = ipsecaRdata(gw.fqdn, publicKey.export({ type: 'spki', format: 'der' }));
  }
  const r = await publish(s, (st) => {
    if (mode === 'restore') delete st.kx!.ipseca[gw.fqdn];
    else st.kx!.ipseca[gw.fqdn] = { mode: mode as IpsecaMode, ...(rdata === undefined ? {} : { rdata }) };
  });
  const served = mode === 'absent' ? [] : [`${ipsecaName(gw.fqdn)}. TYPE65347 ${rdata ?? gw.rdata}`];
  return { ...r, action: 'ipseca', target: ipsecaName(gw.fqdn), mode, records: served, effect: `IPSECA of ${gw.node} at ${ipsecaName(gw.fqdn)}.: ${IPSECA_EFFECT[mode as IpsecaMode | 'restore']}` };
}

/** `unsign SITE`: the site becomes its own zone, served unsigned, delegated without DS. */
export async function unsignSite(s: LabState, siteName: string): Promise<KxChange> {
  const { k, signed } = requireSites(s);
  const site = siteArg(s, siteName);
  needSigned(s, signed, k, site.name, 'unsigning a site');
  const r = await publish(s, (st) => {
    const x = st.kx!;
    x.unsignedSites = [...x.unsignedSites, site.name];
    // Nothing in an unsigned zone can be made bogus, or unsigned again.
    x.kxBogus = x.kxBogus.filter((n) => n !== site.name);
    for (const [fqdn, h] of Object.entries(x.hosts)) if (h.site === site.name && (x.ipseca[fqdn]?.mode === 'bogus' || x.ipseca[fqdn]?.mode === 'unsign')) delete x.ipseca[fqdn];
  });
  return {
    ...r, action: 'unsign-site', target: site.domain, mode: 'unsign', records: kxLines(site, k.kx[site.name]!),
    effect: `${site.domain}. is its own zone, served unsigned and delegated from ${s.model.dns!.zone}. with no DS (its signed NSEC proves that): its KX, A and IPSECA records are insecure, so no exchanger is usable and no claim to the site can be proven`,
  };
}

/** Global `restore` and `unsign` also reset the sites (dns-ops.ts). */
export function resetSites(s: LabState, x: KxDnsState, keepUnbroken: boolean): void {
  if (!keepUnbroken) {
    Object.assign(x, { kx: modelKx(s.model), kxBogus: [], unsignedSites: [], ipseca: {} });
    return;
  }
  // unsign: the whole zone is insecure; record changes stay, signature breaks and subzones go.
  x.kxBogus = [];
  x.unsignedSites = [];
  for (const [fqdn, c] of Object.entries(x.ipseca)) if (c.mode === 'bogus' || c.mode === 'unsign') delete x.ipseca[fqdn];
}
