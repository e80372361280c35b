// `iiptran lab dns|readdress|restart`: the lab DNS service and the commands that move a node
// or restart its daemon. Parsing and printing only; the work is in src/lab/.

import type { Argv, CommandModule } from 'yargs';
import { IiptranError } from '../errors.js';
import { breakHost, dnsView, renderDnsView, restoreZone, unsignZone, type DnsChange } from '../lab/dns-ops.js';
import { BREAK_MODES } from '../lab/dns-zone.js';
import { readdress } from '../lab/readdress.js';
import { restartNodeDaemon } from '../lab/node-restart.js';
import { resolveLab } from '../lab/state.js';
import { guarded, labOpt, needRoot, print } from './lab-util.js';
import { KX_ACTIONS, changeIpseca, changeKx, unsignSite, type KxChange } from '../lab/kx-dns-ops.js';
import { IPSECA_MODES } from '../lab/kx-zone.js';

const DNS_ACTIONS = ['show', 'break', 'unsign', 'restore', 'kx', 'ipseca'] as const;

function renderKxChange(lab: string, c: KxChange): string {
  const what = c.action === 'kx' ? `KX of ${c.target} ${c.mode}` : c.action === 'ipseca' ? `IPSECA at ${c.target} ${c.mode}` : `site ${c.target} unsigned`;
  return [`lab ${lab}: ${what}; serial ${c.serial} re-signed in ${c.signMs} ms and served in ${c.serveMs} ms`, ...c.records.map((r) => `  ${r}`), `  ${c.effect}`, '  (validators holding a cached answer see it within the TTL)'].join('\n');
}

function renderChange(lab: string, c: DnsChange): string {
  const what = c.action === 'break' ? `${c.host} broken (${c.mode})` : c.action === 'unsign' ? 'zone served unsigned' : 'zone restored';
  return `lab ${lab}: ${what}; serial ${c.serial} re-signed in ${c.signMs} ms and served in ${c.serveMs} ms\n  ${c.effect}\n  (validators holding a cached answer see it within the TTL)`;
}

async function dns(a: { lab: string; action: (typeof DNS_ACTIONS)[number]; host?: string; mode?: string; args?: string[]; json: boolean }): Promise<void> {
  const s = resolveLab(a.lab);
  if (a.action === 'show') {
    const v = await dnsView(s);
    print(a.json ? JSON.stringify(v, null, 2) : renderDnsView(v));
    return;
  }
  needRoot('dns');
  const extra = (a.args ?? []).map(String);
  if (a.action === 'kx' || a.action === 'ipseca' || (a.action === 'unsign' && a.host !== undefined)) {
    let k: KxChange;
    if (a.action === 'kx') {
      if (a.host === undefined || a.mode === undefined) throw new IiptranError('IIPTRAN_ERR_USAGE', `lab dns ${s.name} kx needs SITE and an action (${KX_ACTIONS.join('|')}), e.g. lab dns ${s.name} kx site-b remove b1`);
      k = await changeKx(s, a.host, a.mode, extra[0], extra[1]);
    } else if (a.action === 'ipseca') {
      if (a.host === undefined || a.mode === undefined) throw new IiptranError('IIPTRAN_ERR_USAGE', `lab dns ${s.name} ipseca needs GATEWAY and a mode (${[...IPSECA_MODES, 'restore'].join('|')}), e.g. lab dns ${s.name} ipseca b1 wrong`);
      k = await changeIpseca(s, a.host, a.mode);
    } else k = await unsignSite(s, a.host!);
    print(a.json ? JSON.stringify(k, null, 2) : renderKxChange(s.name, k));
    return;
  }
  let c: DnsChange;
  if (a.action === 'break') {
    if (a.host === undefined || a.mode === undefined) throw new IiptranError('IIPTRAN_ERR_USAGE', `lab dns ${s.name} break needs HOST and a mode (${BREAK_MODES.join('|')}), e.g. lab dns ${s.name} break b expired`);
    c = await breakHost(s, a.host, a.mode);
  } else {
    if (a.host !== undefined) throw new IiptranError('IIPTRAN_ERR_USAGE', `lab dns ${s.name} ${a.action} takes no host (it applies to the whole zone)`);
    if (extra.length > 0 || a.mode !== undefined) throw new IiptranError('IIPTRAN_ERR_USAGE', `lab dns ${s.name} ${a.action}: unexpected arguments`);
    c = a.action === 'unsign' ? await unsignZone(s) : await restoreZone(s);
  }
  print(a.json ? JSON.stringify(c, null, 2) : renderChange(s.name, c));
}

async function move(a: { node: string; lab?: string; json: boolean }): Promise<void> {
  needRoot('readdress');
  const s = resolveLab(a.lab);
  const r = await readdress(s, a.node);
  if (a.json) {
    print(JSON.stringify(r, null, 2));
    return;
  }
  print(`lab ${r.lab}: node ${r.node} moved ${r.old} -> ${r.new}; ${r.name}. A ${r.published} (serial ${r.serial}, TTL ${r.ttl} s) served at ${r.servedAt}`);
  print(`  daemon stopped in ${r.ms.stop} ms, address changed in ${r.ms.address} ms, zone re-signed in ${r.ms.sign} ms and served in ${r.ms.serve} ms, daemon answering in ${r.ms.start} ms; ${r.ms.total} ms in all`);
  print(r.peersFollow ? `  its peers name it: they follow within the TTL (${r.ttl} s); watch with: iiptran lab show <peer> links --lab ${r.lab}` : '  its peers use addresses (dns.named_peers: false): they keep the old one and will not follow');
}

async function restart(a: { node: string; lab?: string; json: boolean }): Promise<void> {
  needRoot('restart');
  const s = resolveLab(a.lab);
  const r = await restartNodeDaemon(s, a.node);
  print(a.json ? JSON.stringify({ lab: s.name, node: a.node, ...r }, null, 2) : `lab ${s.name}: node ${a.node}'s daemon restarted (pid ${r.pid}): stopped in ${r.stopMs} ms, answering in ${r.readyMs} ms`);
}

export const labDnsCommands: CommandModule[] = [
  {
    command: 'dns <lab> <action> [host] [mode] [args..]',
    describe: "The lab DNS service: show what it serves, make a host's answers bogus, serve the zone (or a site) unsigned, change a site's KX or a gateway's IPSECA records, or restore it all",
    builder: (y: Argv) =>
      y
        .positional('lab', { type: 'string', demandOption: true, describe: 'lab name' })
        .positional('action', { choices: DNS_ACTIONS, demandOption: true, describe: 'show | break HOST MODE | unsign [SITE] | restore | kx SITE ACTION [GATEWAY [PREF]] | ipseca GATEWAY MODE' })
        .positional('host', { type: 'string', describe: 'break: a node name or its name in the zone (b, b.overlay.test); kx, unsign: a site (site-b or site-b.overlay.test); ipseca: a gateway node or its name (b1, b1.site-b.overlay.test)' })
        .positional('mode', { type: 'string', describe: `break: ${BREAK_MODES.join(' | ')}; kx: ${KX_ACTIONS.join(' | ')}; ipseca: ${[...IPSECA_MODES, 'restore'].join(' | ')}` })
        .positional('args', { type: 'string', array: true, describe: 'kx remove: [GATEWAY]; kx set: GATEWAY PREFERENCE' })
        .option('json', { type: 'boolean', default: false })
        .example('$0 lab dns dns show', 'records, serial served, trust anchor, delv and unbound-host command lines')
        .example('$0 lab dns dns break b expired', "b's A RRSIG expired: bogus (signature expired)")
        .example('$0 lab dns dns break b badsig', "b's A RRSIG corrupted: bogus (signature does not verify)")
        .example('$0 lab dns dns break b nods', 'b delegated to its own zone with no DS and no proof of absence: bogus')
        .example('$0 lab dns dns unsign', 'the zone unsigned, the parent proving no DS: insecure')
        .example('$0 lab dns dns restore', 'signed again, nothing broken: secure (in a site lab also every KX and IPSECA record as in the topology)')
        .example('$0 lab dns kx kx site-b remove b1', "site-b's KX record naming b1 removed (secure): initiators use b2, b1's claim to site-b is not proven")
        .example('$0 lab dns kx kx site-b set b2 5', "b2's KX preference 5: now preferred to b1 (10)")
        .example('$0 lab dns kx kx site-b bogus', "site-b's KX RRset bogus: no IKE is started to site-b")
        .example('$0 lab dns kx kx site-b restore', "site-b's KX records as in the topology, signed")
        .example('$0 lab dns kx ipseca b1 wrong', "b1's IPSECA holds another key's digest (secure): AUTHENTICATION_FAILED")
        .example('$0 lab dns kx ipseca b1 bogus', "b1's IPSECA bogus: IKE to b1 is not started, or aborted")
        .example('$0 lab dns kx ipseca b1 absent', 'no IPSECA for b1 (secure NODATA): unusable, the vlink is refused')
        .example('$0 lab dns kx ipseca b1 unsign', "_500.b1.site-b.overlay.test an unsigned subzone: insecure, unusable, refused")
        .example('$0 lab dns kx unsign site-c', 'site-c an unsigned subzone (no DS): its KX, A and IPSECA records insecure')
        .epilog('Every change is re-signed with a new SOA serial and the command returns once NSD serves it. Validators that cached an answer see the change within the zone TTL.'),
    handler: guarded(dns as (a: unknown) => Promise<void>),
  },
  {
    command: 'readdress <node>',
    describe: 'Give a node a new underlay address: its daemon restarts with it and the lab zone publishes it, re-signed; peers that name it follow',
    builder: (y: Argv) =>
      y
        .positional('node', { type: 'string', demandOption: true })
        .option('lab', labOpt)
        .option('json', { type: 'boolean', default: false })
        .example('$0 lab readdress b', 'b moves to the lowest free address on its network; a and c follow within the TTL')
        .epilog('Needs a lab with a DNS service (dns: in the topology). Prints the old and new address and how long each phase took.'),
    handler: guarded(move as (a: unknown) => Promise<void>),
  },
  {
    command: 'restart <node>',
    describe: "Restart a node's iiptran daemon with its config regenerated (fresh IKE SAs, empty DNS cache)",
    builder: (y: Argv) => y.positional('node', { type: 'string', demandOption: true }).option('lab', labOpt).option('json', { type: 'boolean', default: false }).example('$0 lab restart a', ''),
    handler: guarded(restart as (a: unknown) => Promise<void>),
  },
];
