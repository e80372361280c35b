// IPv6 (RFC 8200): the home of the IPv6 header codec, empty until the [ipv6-frr] issue fills it.
// It will follow ipv4.ts: a view over the bytes with checked field access plus a plain repr with
// parse/emit/length, no I/O and no logging. What the overlay needs from it: version and next
// header checks for an inner packet that arrived with ESP next header 41 (IPv6-in-IPv4), the
// traffic class for RFC 6040 ECN and RFC 2983 DSCP, and ICMPv6 Packet Too Big (an IPv6 router
// never fragments). Addresses come from addr.ts's family-tagged type, never strings.

/** The fixed IPv6 header; extension headers follow it. */
export const IPV6_HEADER_LEN = 40;
/** Protocol / next-header number of an IPv6 packet carried inside IPv4 or ESP (RFC 2473/4213). */
export const IPPROTO_IPV6 = 41;
/** The minimum link MTU every IPv6 link must carry (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;
