// Underlay NAT: a masquerading router, as a home or carrier-grade NAT would be. Masquerade
// keeps the source port when it is free, so a node behind it appears at OUTSIDE:4500.
//
// The input rule matters: an outside peer may send to OUTSIDE:4500 before the inside node
// has opened the mapping. Accepting that packet (even just to answer port-unreachable)
// would confirm a conntrack entry owning OUTSIDE:4500, and masquerade would then move the
// inside node to another port. Dropping it leaves the entry unconfirmed, so it is never kept.

export const NAT_TABLE = 'iiptran_lab_nat';

export function natRuleset(outsideIf: string): string {
  return `table ip ${NAT_TABLE} {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${outsideIf}" masquerade
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "${outsideIf}" ct state new drop
  }
}
`;
}
