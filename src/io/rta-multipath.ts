// RTA_MULTIPATH of an rtnetlink route (an ECMP route, as OSPF installs for equal-cost paths):
// a list of struct rtnexthop, each followed by its own nested route attributes. The `netlink`
// package hands the attribute over as raw bytes (and parses only one fixed header at a time),
// so the list is walked here. Netlink is in host byte order.

import { endianness } from 'node:os';
import { formatIpv6 } from '../wire/ipv6-text.js';

export interface RtNextHop {
  ifindex: number;
  /** `ip route ... weight N`: the kernel stores N - 1 in rtnh_hops. */
  weight: number;
  /** RTA_GATEWAY inside the next hop, dotted (RFC 5952 for IPv6); null for a device-only next hop. */
  gateway: string | null;
  /** RTNH_F_* names that are set, e.g. `linkdown` (no carrier on the device), `dead`, `onlink`. */
  flags: string[];
}

const RTNH_HDR_LEN = 8;
const RTA_HDR_LEN = 4;
const RTA_GATEWAY = 5;
const LE = endianness() === 'LE';

const RTNH_FLAGS: [number, string][] = [
  [1, 'dead'], [2, 'pervasive'], [4, 'onlink'], [8, 'offload'], [16, 'linkdown'], [32, 'unresolved'], [64, 'trap'],
];

const align4 = (n: number) => (n + 3) & ~3;

function u16(b: Buffer, o: number): number {
  return LE ? b.readUInt16LE(o) : b.readUInt16BE(o);
}

function i32(b: Buffer, o: number): number {
  return LE ? b.readInt32LE(o) : b.readInt32BE(o);
}

function flagNames(f: number): string[] {
  const out: string[] = [];
  for (const [bit, name] of RTNH_FLAGS) if ((f & bit) !== 0) out.push(name);
  return out;
}

/**
 * The next hops of an RTA_MULTIPATH payload, in the kernel's order. Returns a description of
 * the first inconsistency instead (a length running past the end, an entry shorter than its
 * header): the caller reports it rather than show a route with next hops missing.
 */
export function parseMultipath(b: Buffer): RtNextHop[] | string {
  const hops: RtNextHop[] = [];
  let o = 0;
  while (o < b.length) {
    if (b.length - o < RTNH_HDR_LEN) return `${b.length - o} stray bytes after next hop ${hops.length}`;
    const len = u16(b, o);
    if (len < RTNH_HDR_LEN || len > b.length - o) return `next hop ${hops.length} has length ${len} with ${b.length - o} bytes left`;
    const hop: RtNextHop = { ifindex: i32(b, o + 4), weight: b[o + 3]! + 1, gateway: null, flags: flagNames(b[o + 2]!) };
    let a = o + RTNH_HDR_LEN;
    const end = o + len;
    while (a < end) {
      if (end - a < RTA_HDR_LEN) return `next hop ${hops.length}: ${end - a} stray attribute bytes`;
      const alen = u16(b, a);
      if (alen < RTA_HDR_LEN || alen > end - a) return `next hop ${hops.length}: attribute length ${alen} with ${end - a} bytes left`;
      if (u16(b, a + 2) === RTA_GATEWAY && alen === RTA_HDR_LEN + 4) {
        hop.gateway = `${b[a + 4]}.${b[a + 5]}.${b[a + 6]}.${b[a + 7]}`;
      } else if (u16(b, a + 2) === RTA_GATEWAY && alen === RTA_HDR_LEN + 16) {
        // An IPv6 route's next hop (OSPFv3 installs link-local gateways).
        hop.gateway = formatIpv6(Uint8Array.from(b.subarray(a + 4, a + 20)));
      }
      a += align4(alen);
    }
    hops.push(hop);
    o += align4(len);
  }
  return hops;
}
