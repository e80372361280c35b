// cs_add: the one loop every checksum here goes through. 32-bit loads into a 64-bit sum: a
// carry out of the low half lands in the high half and is folded back at the end, so the loop
// needs no carry handling for any packet this code can see (< 2^32 words).

#include "csum.h"

uint64_t cs_add(uint64_t acc, const void *p, size_t len) {
  const uint8_t *b = p;
  uint64_t a0 = 0, a1 = 0;
  while (len >= 16) {
    uint32_t w[4];
    memcpy(w, b, 16);
    a0 += (uint64_t)w[0] + w[1];
    a1 += (uint64_t)w[2] + w[3];
    b += 16;
    len -= 16;
  }
  while (len >= 4) {
    uint32_t w;
    memcpy(&w, b, 4);
    a0 += w;
    b += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t h;
    memcpy(&h, b, 2);
    a1 += h;
    b += 2;
    len -= 2;
  }
  if (len == 1) {
    // The odd byte is the first of a 16-bit word whose second byte is 0, in memory order.
    uint8_t tail[2] = {b[0], 0};
    uint16_t h;
    memcpy(&h, tail, 2);
    a1 += h;
  }
  // A sum of 32-bit words folds to the same 16-bit sum as the 16-bit words it is made of.
  return acc + (a0 & 0xffffffffu) + (a0 >> 32) + (a1 & 0xffffffffu) + (a1 >> 32);
}
