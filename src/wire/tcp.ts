// TCP (RFC 9293): the home of a TCP header view, empty until a feature needs one. Two are
// planned: MSS clamping on vlinks whose MTU is below the VN senders' (rewrite the MSS option in
// SYNs, with an incremental checksum update as ipip.ts does for ECN), and the offload path of
// the [performance] issue, which must find segment boundaries in a GSO super-packet. Like the
// other codecs here: a view over bytes plus a plain repr, no I/O.

export const IPPROTO_TCP = 6;
/** TCP header without options. */
export const TCP_MIN_HEADER_LEN = 20;
