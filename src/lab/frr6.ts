// FRR's OSPFv3 for a dual-stack lab node (ipv6-model.ts): ospf6d with the settings ospfd uses
// (frr.ts, ../shared/interop/routing.md): point-to-point vlinks with the topology's hello/dead,
// 1 s retransmits, the BFD profile, SPF throttled to its minimum, lo passive so its IPv6 VN
// /128 is advertised without hellos; zebra gives OSPFv3 routes the node's IPv6 VN source.

import type { LabModel, ModelNode } from './topology-model.js';

const ROUTE_MAP6 = 'VNSRC6';

/** `proto`: zebra's name of the protocol whose IPv6 routes get the source (ospf6, or bgp in BGP labs). */
export function zebraIpv6(vnAddr6: string, proto: 'ospf6' | 'bgp' = 'ospf6'): string {
  return `route-map ${ROUTE_MAP6} permit 10
 set src ${vnAddr6}
exit
!
ipv6 protocol ${proto} route-map ${ROUTE_MAP6}
!
`;
}

export function ospf6dConfig(model: LabModel, n: ModelNode, header: string, bfdProfile: string): string {
  const { hello, dead } = model.ospf;
  const ifaces = n.vlinks
    .map((v) => `interface ${v.ifname}
 ipv6 ospf6 area 0
 ipv6 ospf6 network point-to-point
 ipv6 ospf6 hello-interval ${hello}
 ipv6 ospf6 dead-interval ${dead}
 ipv6 ospf6 retransmit-interval 1
${model.bfd ? ` ipv6 ospf6 bfd profile ${bfdProfile}\n` : ''}exit
!
`)
    .join('');
  // OSPFv3 advertises an interface's prefixes, not `network` statements: lo's ::1 is host
  // scope and never advertised, the underlay interfaces are simply not in an area.
  const lo = 'interface lo\n ipv6 ospf6 area 0\n ipv6 ospf6 passive\nexit\n!\n';
  return `${header}${ifaces}${lo}router ospf6
 ospf6 router-id ${n.vnAddr}
 log-adjacency-changes
 timers throttle spf 0 50 1000
 timers lsa min-arrival 0
exit
!
`;
}
