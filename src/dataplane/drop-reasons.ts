// Drop reasons are data (BIRD's DROP(reason)): the hot path never throws, it returns one of
// these and the caller bumps the matching counter. Names are stable: the inspector and its
// --json output show them verbatim.

export const DROP_REASONS = [
  'malformed',        // packet too short or a header field is inconsistent
  'unknown-spi',      // inbound ESP with an SPI that has no SA
  'bad-icv',          // AEAD authentication failed
  'replay',           // sequence number already seen or left of the window
  'policy-mismatch',  // decrypted packet's outer header does not match the SA's selectors
  'no-sa',            // outbound: SPD says PROTECT but no usable SA (never bypass)
  'spd-discard',      // outbound: SPD has no entry or says DISCARD
  'mtu',              // inner packet too large for the vlink (ICMP frag-needed sent when DF)
  'sa-exhausted',     // outbound: non-ESN SA reached 2^32-1 sequence numbers
  'bad-padding',      // ESP trailer padding bytes are not 1,2,3,...
  'bad-next-header',  // ESP next header is neither 4 (IPv4), 41 (IPv6) nor 59 (dummy)
  'inner-version-mismatch', // next header 4 over a non-IPv4 packet, or 41 over a non-IPv6 one
  'ipv6-truncated',   // inner IPv6 shorter than its fixed header or its payload length
  'ipv6-ext-chain',   // inner IPv6 extension-header chain malformed, misordered or too long
  'ipv6-not-negotiated', // IPv6 inner packet on an SA whose IKE traffic selectors left out protocol 41
  'ecn-ce-not-ect',   // RFC 6040: outer CE over a Not-ECT inner packet must be dropped
  'not-ip',           // vlink delivered a packet that is neither IPv4 nor IPv6
  'tun-write',        // writing to the TUN failed (link down, EIO)
  'send-error',       // the underlay socket refused the datagram
  'non-esp-marker',   // UDP 4500 datagram with the non-ESP marker (IKE) while no IKE handler
  'keepalive',        // NAT keepalive (0xff), consumed, not an error
  'internal-error',   // a handler threw on this input (a bug): dropped, logged, daemon keeps running
  'bad-offload',      // a TUN with offloads handed a virtio_net_hdr / GSO metadata that does not fit its packet
  'congestion',       // the daemon fell behind its TUN: one packet of the largest flow, so it backs off (fair-drop.ts)
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

/** A fixed record of counters, one per reason; cheap to bump on the hot path. */
export type DropCounters = Record<DropReason, number>;

export function newDropCounters(): DropCounters {
  const c = {} as DropCounters;
  for (const r of DROP_REASONS) c[r] = 0;
  return c;
}
