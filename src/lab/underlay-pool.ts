// The lab's underlay address plan for either family (issue #10). IPv4: network j (0-based) is
// the (j+1)-th /24 of `addressing.underlay`, members .1, .2, ...; IPv6 (an IPv6
// `addressing.underlay`, e.g. fd00:200::/48): the (j+1)-th /64, members ::1, ::2, ...
// topology-model.ts asks this file for every underlay address, so the rest of the model does
// not care which family the underlay is.

import { parseCidr, u32ToIpv4 } from '../wire/addr.js';
import { addToIpv6, parseCidr6 } from '../wire/cidr6.js';
import { formatIpv6 } from '../wire/ipv6-text.js';

export interface UnderlayPool {
  family: 4 | 6;
  /** Prefix length of each network: 24 or 64. */
  netLen: number;
  /** Network j's prefix, e.g. 10.200.1.0/24 or fd00:200:0:1::/64. */
  subnet(j: number): string;
  /** Member k's (1-based) address on network j. */
  host(j: number, k: number): string;
}

/** True for an IPv6 `addressing.underlay`. */
export function isIpv6Underlay(pool: string): boolean {
  return pool.includes(':');
}

export function underlayPool(pool: string): UnderlayPool {
  if (isIpv6Underlay(pool)) {
    const c = parseCidr6(pool)!;
    // Network j: j+1 added to the 64-bit network part (bytes 0..7), the interface part zero.
    const net = (j: number) => {
      const n = Uint8Array.from(c.addr);
      let carry = j + 1;
      for (let i = 7; i >= 0 && carry > 0; i--) {
        const s = n[i]! + (carry % 256);
        n[i] = s & 0xff;
        carry = Math.floor(carry / 256) + (s > 0xff ? 1 : 0);
      }
      n.fill(0, 8);
      return n;
    };
    return {
      family: 6,
      netLen: 64,
      subnet: (j) => `${formatIpv6(net(j))}/64`,
      host: (j, k) => formatIpv6(addToIpv6(net(j), k)),
    };
  }
  const c = parseCidr(pool)!;
  const base = (j: number) => c.addr + (j + 1) * 256;
  return {
    family: 4,
    netLen: 24,
    subnet: (j) => `${u32ToIpv4(base(j) >>> 0)}/24`,
    host: (j, k) => u32ToIpv4((base(j) + k) >>> 0),
  };
}
