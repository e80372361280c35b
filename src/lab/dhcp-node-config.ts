// The node config and BIRD config parts of a lab with DHCP (dhcp-model.ts).
//
// Node configs: a client's vlink to the relay gets `address: dhcp`, the relay's VN address as
// `peer_address` and its lease file in the node's directory; the relay's end gets
// `peer_address: dhcp`, and the relay node a `dhcp_relay` towards the lab's Kea.
//
// BIRD: a client has no VN address until its lease, so its router id is its underlay address,
// and it takes OSPF routes of every kind (the other clients' addresses arrive as externals);
// the relay learns its own /32 routes to the clients from the kernel (protocol dhcp, 16) and
// exports them into OSPF, which is how the other nodes reach a leased address.

import type { LabModel, ModelNode, VlinkEnd } from './topology-model.js';

export function dhcpVlinkLines(v: VlinkEnd): string[] {
  if (v.dhcp === 'client') return [`    peer_address: ${v.peerLinkAddr}`, `    dhcp: { lease_file: dhcp-${v.ifname}.json }`];
  if (v.dhcp === 'peer') return ['    peer_address: dhcp'];
  return [];
}

export function dhcpTopLines(m: LabModel, n: ModelNode): string[] {
  const d = m.dhcp;
  if (d === undefined || d.relay !== n.name) return [];
  return [
    '# DHCP relay (RFC 3456) to the lab\'s Kea; remote-id = each peer\'s authenticated IKE identity',
    'dhcp_relay:',
    `  address: ${d.relayAddr}`,
    `  servers: [${d.serverAddr}]`,
    `  vlinks: [${n.vlinks.filter((v) => v.dhcp === 'peer').map((v) => v.ifname).join(', ')}]`,
  ];
}

export interface BirdParts {
  routerId: string;
  /** The kernel protocol's options and its ipv4 channel's import and export filters. */
  kernelOptions: string;
  kernelImport: string;
  kernelExport: string;
  ospfExport: string;
}

/** Null: the lab has no DHCP, bird.ts keeps its own. */
export function dhcpBirdParts(m: LabModel, n: ModelNode): BirdParts | null {
  if (m.dhcp === undefined) return null;
  const anyOspf = 'source ~ [RTS_OSPF, RTS_OSPF_IA, RTS_OSPF_EXT1, RTS_OSPF_EXT2]';
  if (n.dhcp === 'client') {
    return { routerId: n.underlayAddr, kernelOptions: '', kernelImport: 'import none;', kernelExport: `if ${anyOspf} then accept;`, ospfExport: 'export none;' };
  }
  const relay = n.dhcp === 'relay';
  return {
    routerId: n.vnAddr,
    kernelOptions: relay ? '\n  learn yes;' : '',
    kernelImport: relay ? 'import where krt_source = 16;' : 'import none;',
    kernelExport: `if ${anyOspf} && net != ${n.vn} then { krt_prefsrc = ${n.vnAddr}; accept; }`,
    ospfExport: relay ? 'export where source = RTS_INHERIT;' : 'export none;',
  };
}
