// What a site lab's DNS service publishes for its sites and what `lab dns` has changed in it,
// kept in state.json beside the rest of the DNS state: each site's KX records now, the IPSECA
// RDATA of every gateway's (and impostor's) own public key, and the breaks. sitesSpec turns
// it into the zone builder's input (kx-zone.ts).

import fs from 'node:fs';
import path from 'node:path';
import { createPublicKey } from 'node:crypto';
import { ipsecaPublication } from '../dns/ipseca.js';
import { IiptranError } from '../errors.js';
import { publishedAddress } from './dns-model.js';
import type { IpsecaMode, KxRecord, SitesSpec } from './kx-zone.js';
import type { LabModel } from './topology-model.js';

export interface KxDnsState {
  /** Site -> its KX records as served now (the topology's until `lab dns ... kx` changes them). */
  kx: Record<string, KxRecord[]>;
  /** Sites whose KX RRset is served bogus. */
  kxBogus: string[];
  /** Sites served as their own unsigned zone. */
  unsignedSites: string[];
  /** Gateway or impostor name (<node>.<site>.<zone>) -> its node, site and the IPSECA RDATA of its own key. */
  hosts: Record<string, { node: string; site: string; rdata: string }>;
  /** Gateway name -> how its IPSECA is changed; `wrong` carries the RDATA served instead. */
  ipseca: Record<string, { mode: IpsecaMode; rdata?: string }>;
}

/** The RFC 3597 RDATA (`\# 35 030101<sha-256>`) of the DANE-EE SPKI SHA-256 record for a key, as `iiptran genauthkey --ipseca` prints it. */
export function ipsecaRdata(owner: string, spkiDer: Buffer): string {
  const g = ipsecaPublication(owner, spkiDer).generic;
  return g.slice(g.indexOf('\\#'));
}

export function spkiOfPem(pem: string): Buffer {
  return createPublicKey(pem).export({ type: 'spki', format: 'der' });
}

/** The topology's KX records per site. */
export function modelKx(m: LabModel): Record<string, KxRecord[]> {
  return Object.fromEntries((m.sites ?? []).map((s) => [s.name, s.gateways.map((g) => ({ preference: g.preference, exchanger: g.fqdn }))]));
}

/** lab up, after the keys step: each gateway's public key (<node dir>/keys/<node>.pub) as the IPSECA it publishes. */
export function initialKxState(m: LabModel, nodeDir: (node: string) => string): KxDnsState {
  const hosts: KxDnsState['hosts'] = {};
  for (const s of m.sites ?? []) {
    for (const h of [...s.gateways, ...s.impostors]) {
      const file = path.join(nodeDir(h.node), 'keys', `${h.node}.pub`);
      let pem: string;
      try {
        pem = fs.readFileSync(file, 'utf8');
      } catch (e) {
        throw new IiptranError('IIPTRAN_ERR_LAB', `site ${s.name}: gateway ${h.node}'s public key ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      }
      hosts[h.fqdn] = { node: h.node, site: s.name, rdata: ipsecaRdata(h.fqdn, spkiOfPem(pem)) };
    }
  }
  return { kx: modelKx(m), kxBogus: [], unsignedSites: [], hosts, ipseca: {} };
}

export function sitesSpec(m: LabModel, k: KxDnsState): SitesSpec {
  return {
    sites: (m.sites ?? []).map((s) => ({ name: s.name, domain: s.domain, kx: k.kx[s.name] ?? [], kxBogus: k.kxBogus.includes(s.name), unsigned: k.unsignedSites.includes(s.name) })),
    hosts: Object.entries(k.hosts).map(([fqdn, h]) => {
      const change = k.ipseca[fqdn];
      return {
        fqdn,
        site: h.site,
        address: publishedAddress(m, m.nodes.find((n) => n.name === h.node)!),
        rdata: change?.mode === 'wrong' ? change.rdata! : h.rdata,
        mode: change?.mode ?? null,
      };
    }),
  };
}
