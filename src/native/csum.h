// The Internet checksum (RFC 1071) for the offload paths: segmentation recomputes IPv4, TCP and
// UDP checksums per segment, checksum completion finishes what the kernel left partial, and
// coalescing verifies each segment before it is merged.
//
// Sums are kept in "memory order": 16-bit words are added as the CPU loads them, and RFC 1071
// §2(B) makes the folded result byte-order independent, so storing it with memcpy puts the
// right bytes on the wire on either endianness. Only the last chunk of a sum may have an odd
// length.

#ifndef IIPTRAN_CSUM_H
#define IIPTRAN_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

// Adds `len` bytes at `p` to the running sum `acc`; an odd last byte counts as if followed by 0.
uint64_t cs_add(uint64_t acc, const void *p, size_t len);

// Folds a running sum to 16 bits (not complemented), in memory order.
static inline uint16_t cs_fold(uint64_t acc) {
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  return (uint16_t)acc;
}

// The IPv4 pseudo-header of RFC 793/768 (addresses as they sit in the packet, protocol, and
// the transport length in host order) added to `acc`.
static inline uint64_t cs_pseudo4(uint64_t acc, const uint8_t *saddr, const uint8_t *daddr, uint8_t proto,
                                  uint32_t len) {
  uint8_t ph[12];
  memcpy(ph, saddr, 4);
  memcpy(ph + 4, daddr, 4);
  ph[8] = 0;
  ph[9] = proto;
  ph[10] = (uint8_t)(len >> 8);
  ph[11] = (uint8_t)len;
  return cs_add(acc, ph, sizeof ph);
}

// The IPv6 pseudo-header of RFC 8200 §8.1 (addresses as in the packet, upper-layer length, next header).
static inline uint64_t cs_pseudo6(uint64_t acc, const uint8_t *saddr, const uint8_t *daddr, uint8_t proto,
                                  uint32_t len) {
  uint8_t ph[40];
  memcpy(ph, saddr, 16);
  memcpy(ph + 16, daddr, 16);
  ph[32] = (uint8_t)(len >> 24);
  ph[33] = (uint8_t)(len >> 16);
  ph[34] = (uint8_t)(len >> 8);
  ph[35] = (uint8_t)len;
  ph[36] = ph[37] = ph[38] = 0;
  ph[39] = proto;
  return cs_add(acc, ph, sizeof ph);
}

// Stores ~fold(acc) at p; `zero_as_ffff` for UDP, where 0 means "no checksum" (RFC 768).
static inline void cs_store(uint8_t *p, uint64_t acc, int zero_as_ffff) {
  uint16_t c = (uint16_t)~cs_fold(acc);
  if (c == 0 && zero_as_ffff) c = 0xffff;
  memcpy(p, &c, 2);
}

// Recomputes the IPv4 header checksum of the header at `ip` (IHL read from it).
static inline void cs_ipv4_header(uint8_t *ip) {
  size_t hl = (size_t)(ip[0] & 0x0f) * 4;
  ip[10] = ip[11] = 0;
  cs_store(ip + 10, cs_add(0, ip, hl), 0);
}

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t rd32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

#endif
