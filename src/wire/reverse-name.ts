// Reverse-lookup names (RFC 1035 §3.5 in-addr.arpa, RFC 3596 §2.5 ip6.arpa): what a PTR or an
// IPSECA (RFC 4025 §1.2) lookup for a peer's underlay address asks for. Absolute names, with
// the trailing dot, as the DNS codec expects them.

import { Address4, Address6 } from 'ip-address';
import { formatAddr, type IpAddr } from './addr.js';

export function reverseName(a: IpAddr): string {
  switch (a.family) {
    case 4:
      return new Address4(formatAddr(a)).reverseForm();
    case 6:
      return new Address6(formatAddr(a)).reverseForm();
  }
}
