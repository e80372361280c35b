// espSeal: a batch of inner packets in, ESP packets out, back to back in one output buffer so
// that runs of equal-sized datagrams can leave with one UDP GSO send. With a virtio_net_hdr in
// front of each packet (a TUN with offloads), TCP and UDP super-packets are segmented here,
// each segment getting its own IPv4 ID, length and checksums and its TCP sequence number and
// flags, and sealed in the same pass: headers are built in the output and encrypted in place,
// the payload is encrypted straight from the input, so it is read twice (checksum, cipher) and
// written once. Packets whose checksum the kernel left partial are completed before sealing.
// The metadata is checked against the packet it describes and never trusted further.

#include "esp_batch.h"
#include "csum.h"
#include "vnet.h"

#include <netinet/in.h>
#include <string.h>

typedef struct piece {
  const uint8_t *src;  // NULL: the bytes are already in place in the output
  int len;
} piece_t;

// Pad length that makes payload + trailer a multiple of 4 (RFC 4303 §2.4).
static inline int pad_for(int pt_len) { return (4 - ((pt_len + 2) & 3)) & 3; }

// Worst-case bytes one ESP packet of a `pt_len`-byte payload takes.
static inline int esp_size(int pt_len) { return pt_len + ESP_FIXED_OVERHEAD + pad_for(pt_len); }

// Seals one ESP packet at `out` whose payload is the concatenation of `pc`; returns its length or
// a negative status. Pieces with a NULL src already sit at out + ESP_PAYLOAD_OFF + offset.
static int seal_one(seal_ctx_t *c, uint8_t *out, const piece_t *pc, int npc, int pt_len) {
  if (c->left == 0) return ST_EXHAUSTED;
  c->left--;
  if (++c->seq_lo == 0) c->seq_hi++;
  // IV = base + seq (mod 2^64): unique for the SA's life, not repeated when a manual SA's
  // counter restarts with the daemon (the base is random per SA instance, see sa.ts).
  uint32_t iv_lo = c->iv_lo + c->seq_lo;
  uint32_t iv_hi = c->iv_hi + c->seq_hi + (iv_lo < c->iv_lo ? 1 : 0);
  wr32(out, c->spi);
  wr32(out + 4, c->seq_lo);
  wr32(out + 8, iv_hi);
  wr32(out + 12, iv_lo);
  uint8_t aad[12];
  int aad_len = esp_aad(aad, c->spi, c->seq_hi, c->seq_lo, c->esn);
  if (!aead_begin(c->sa, out + ESP_HDR_LEN, aad, aad_len)) return ST_CRYPTO;
  uint8_t *p = out + ESP_PAYLOAD_OFF;
  for (int i = 0; i < npc; i++) {
    if (!aead_update(c->sa, p, pc[i].src ? pc[i].src : p, pc[i].len)) return ST_CRYPTO;
    p += pc[i].len;
  }
  int pad = pad_for(pt_len);
  for (int i = 0; i < pad; i++) p[i] = (uint8_t)(i + 1);
  p[pad] = (uint8_t)pad;
  p[pad + 1] = c->nh;
  if (!aead_update(c->sa, p, p, pad + 2) || !aead_seal_end(c->sa, p + pad + 2)) return ST_CRYPTO;
  return ESP_PAYLOAD_OFF + pt_len + pad + 2 + ESP_ICV_LEN;
}

// What a packet's virtio_net_hdr asks for, once checked against the packet.
typedef struct plan {
  int gso;       // 0: one packet; IPPROTO_TCP / IPPROTO_UDP: segment
  int hl;        // IPv4 + transport header bytes copied into every segment
  int mss;       // payload bytes per segment
  int nseg;
  int csum_at;   // -1, or where to store a completed partial checksum
  int csum_from; // ... summed from here to the end
} plan_t;

static int plan_packet(const uint8_t *pkt, int len, const vnet_hdr_t *h, plan_t *pl) {
  pl->gso = 0;
  pl->nseg = 1;
  pl->csum_at = -1;
  if (h->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) return ST_BAD_OFFLOAD;
  // IPv6 comes too: TUN_F_CSUM covers it, and USO4 is only granted together with USO6.
  bool v6 = len >= 40 && (pkt[0] >> 4) == 6;
  int iphl;
  if (v6) {
    iphl = 40;
    if (rd16(pkt + 4) + 40 != len) return ST_BAD_OFFLOAD;
  } else {
    if (len < 20 || (pkt[0] >> 4) != 4) return ST_BAD_OFFLOAD;
    iphl = (pkt[0] & 0x0f) * 4;
    if (iphl < 20 || iphl > len || rd16(pkt + 2) != len) return ST_BAD_OFFLOAD;
  }
  bool needs_csum = (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;
  if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
    if (!needs_csum) return ST_OK;
    // The checksum never covers the IPv4 header, and both it and its field lie in the packet.
    if (h->csum_start < iphl || h->csum_start >= len || (int)h->csum_start + h->csum_offset + 2 > len)
      return ST_BAD_OFFLOAD;
    pl->csum_from = h->csum_start;
    pl->csum_at = h->csum_start + h->csum_offset;
    return ST_OK;
  }
  // IPv6: the transport header right after the fixed header (the kernel's GSO puts extension
  // headers before it only for traffic we never see segmented); anything else is refused.
  int proto = v6 ? pkt[6] : pkt[9];
  int l4hl;
  if (h->gso_type == VIRTIO_NET_HDR_GSO_TCPV4) {
    if (v6 || proto != IPPROTO_TCP || h->csum_offset != 16) return ST_BAD_OFFLOAD;
    if (iphl + 20 > len) return ST_BAD_OFFLOAD;
    l4hl = (pkt[iphl + 12] >> 4) * 4;
    if (l4hl < 20) return ST_BAD_OFFLOAD;
  } else if (h->gso_type == VIRTIO_NET_HDR_GSO_UDP_L4) {
    if (proto != IPPROTO_UDP || h->csum_offset != 6) return ST_BAD_OFFLOAD;
    l4hl = 8;
    if (iphl + 8 > len || rd16(pkt + iphl + 4) != len - iphl) return ST_BAD_OFFLOAD;
  } else {
    return ST_BAD_OFFLOAD;  // UFO, TSO6 or ECN-flagged TSO: never enabled, so never legitimate
  }
  // A segmentable packet is an unfragmented one whose checksum the kernel left to us.
  if (!needs_csum || h->csum_start != iphl || (!v6 && (rd16(pkt + 6) & 0x3fff) != 0)) return ST_BAD_OFFLOAD;
  if (iphl + l4hl > len || h->gso_size == 0 || iphl + l4hl + h->gso_size > 65535) return ST_BAD_OFFLOAD;
  int payload = len - iphl - l4hl;
  pl->gso = proto;
  pl->hl = iphl + l4hl;
  pl->mss = h->gso_size;
  pl->nseg = payload <= h->gso_size ? 1 : (payload + h->gso_size - 1) / h->gso_size;
  return ST_OK;
}

// Segment k of a super-packet: headers into `h` (the output's plaintext start), fixed up.
static void build_segment(uint8_t *h, const uint8_t *pkt, const plan_t *pl, int k, int seglen, bool last) {
  bool v6 = (pkt[0] >> 4) == 6;
  int iphl = v6 ? 40 : (pkt[0] & 0x0f) * 4;
  uint32_t l4len = (uint32_t)(pl->hl - iphl + seglen);
  memcpy(h, pkt, (size_t)pl->hl);
  uint64_t sum;
  if (v6) {
    // No ID and no header checksum in IPv6: the payload length is all the fixed header changes.
    wr16(h + 4, (uint16_t)l4len);
    sum = cs_pseudo6(0, pkt + 8, pkt + 24, (uint8_t)pl->gso, l4len);
  } else {
    wr16(h + 2, (uint16_t)(pl->hl + seglen));
    wr16(h + 4, (uint16_t)(rd16(pkt + 4) + k));
    cs_ipv4_header(h);
    sum = cs_pseudo4(0, pkt + 12, pkt + 16, (uint8_t)pl->gso, l4len);
  }
  uint8_t *l4 = h + iphl;
  const uint8_t *data = pkt + pl->hl + (size_t)k * pl->mss;
  if (pl->gso == IPPROTO_TCP) {
    wr32(l4 + 4, rd32(pkt + iphl + 4) + (uint32_t)k * (uint32_t)pl->mss);
    // FIN and PSH belong to the last segment only, CWR to the first (as the kernel's TSO does).
    if (!last) l4[13] &= (uint8_t)~0x09;
    if (k > 0) l4[13] &= (uint8_t)~0x80;
    l4[16] = l4[17] = 0;
    sum = cs_add(sum, l4, (size_t)(pl->hl - iphl));
    cs_store(l4 + 16, cs_add(sum, data, (size_t)seglen), 0);
  } else {
    wr16(l4 + 4, (uint16_t)(8 + seglen));
    l4[6] = l4[7] = 0;
    sum = cs_add(sum, l4, 8);
    cs_store(l4 + 6, cs_add(sum, data, (size_t)seglen), 1);
  }
}

// The item loop of espSeal, shared with the fast path (fastpath.c): items [start, end) of `r`
// with status 0 are sealed into r->out from r->used on, their packets listed from r->count on,
// until the output is full. Returns the first item not processed.
int64_t esp_seal_items(seal_ctx_t *cp, seal_run_t *r, int64_t start, int64_t end) {
  seal_ctx_t c = *cp;
  const uint8_t *in = r->in;
  uint8_t *out = r->out;
  size_t in_len = r->in_len, out_len = r->out_len, cap = r->cap;
  const int32_t *ioff = r->ioff, *ilen = r->ilen;
  int32_t *st = r->st, *ooff = r->ooff, *olen = r->olen;
  uint8_t *otos = r->otos;
  bool vnet = r->vnet;
  size_t used = r->used, count = r->count;
  uint32_t made = 0, segmented = 0;
  uint64_t inner = 0;
  int64_t i = start;
  for (; i < end; i++) {
    if (st[i] != ST_OK) continue;
    int32_t off = ioff[i], len = ilen[i];
    if (off < (vnet ? VNET_HDR_LEN : 0) || len < (vnet ? 1 : 0) || (size_t)off + (size_t)len > in_len) {
      st[i] = ST_BAD_OFFLOAD;
      continue;
    }
    const uint8_t *pkt = in + off;
    plan_t pl = {.gso = 0, .nseg = 1, .csum_at = -1};
    if (vnet) {
      vnet_hdr_t h;
      vnet_read(&h, pkt - VNET_HDR_LEN);
      int rc = plan_packet(pkt, len, &h, &pl);
      if (rc != ST_OK) {
        st[i] = rc;
        continue;
      }
    }
    int seg_pt = pl.gso ? pl.hl + pl.mss : len;
    size_t need = (size_t)pl.nseg * (size_t)esp_size(seg_pt);
    if (used + need > out_len || count + (size_t)pl.nseg > cap) {
      if (count == 0) {
        st[i] = ST_NO_ROOM;
        continue;
      }
      break;  // the caller sends what is there and calls again from here
    }
    if (pl.csum_at >= 0) {
      // Completing the kernel's partial checksum: the field holds the pseudo-header sum.
      uint8_t *w = (uint8_t *)pkt;
      uint64_t s = cs_add(0, w + pl.csum_from, (size_t)(len - pl.csum_from));
      cs_store(w + pl.csum_at, s, 1);
    }
    if (pl.gso) segmented++;
    for (int k = 0; k < pl.nseg; k++) {
      uint8_t *o = out + used;
      piece_t pc[2];
      int npc, pt_len;
      if (pl.gso) {
        int total = len - pl.hl;
        int seglen = total - k * pl.mss < pl.mss ? total - k * pl.mss : pl.mss;
        build_segment(o + ESP_PAYLOAD_OFF, pkt, &pl, k, seglen, k == pl.nseg - 1);
        pc[0] = (piece_t){NULL, pl.hl};
        pc[1] = (piece_t){pkt + pl.hl + (size_t)k * pl.mss, seglen};
        npc = 2;
        pt_len = pl.hl + seglen;
      } else {
        pc[0] = (piece_t){pkt, len};
        npc = 1;
        pt_len = len;
      }
      int n = seal_one(&c, o, pc, npc, pt_len);
      if (n < 0) {
        st[i] = n;
        break;
      }
      ooff[count] = (int32_t)used;
      olen[count] = n;
      // The outer TOS: IPv4's TOS byte, or IPv6's traffic class (RFC 2983, RFC 6040 both ways).
      otos[count] = (pkt[0] >> 4) == 6 ? (uint8_t)(((pkt[0] & 0x0f) << 4) | (pkt[1] >> 4)) : pkt[1];
      count++;
      used += (size_t)n;
      made++;
      inner += (uint64_t)pt_len;
    }
  }
  *cp = c;
  r->used = used;
  r->count = count;
  r->made = made;
  r->segmented = segmented;
  r->inner = inner;
  return i;
}

// What espSeal would do with a packet's virtio_net_hdr: ST_OK and *gso (0: no segmentation),
// or the status it would give the item.
int esp_seal_plan(const uint8_t *pkt, int len, const uint8_t *vnet_hdr, int *gso) {
  vnet_hdr_t h;
  vnet_read(&h, vnet_hdr);
  plan_t pl = {.gso = 0, .nseg = 1, .csum_at = -1};
  int rc = plan_packet(pkt, len, &h, &pl);
  *gso = pl.gso;
  return rc;
}

// espSeal(sa, in, inOff: Int32Array, inLen: Int32Array, status: Int32Array, start, end,
//         out, outOff: Int32Array, outLen: Int32Array, outTos: Uint8Array, ctl: Uint32Array)
//   -> ESP packets made. Items [start, end) with status 0 are sealed into `out` from
// ctl[SC_OUT_USED] on, their packets listed from ctl[SC_OUT_COUNT] on, until the output is full
// (ctl[SC_ITEM_NEXT] says where to go on). A failing item gets a negative status.
napi_value js_esp_seal(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  if (!get_args(env, info, 12, argv, NULL, NULL)) return NULL;
  esp_sa_t *sa = esp_sa_arg(env, argv[0]);
  if (sa == NULL) return NULL;
  uint8_t *in, *out;
  size_t in_len, out_len, n_ioff, n_ilen, n_st, n_ooff, n_olen, n_otos, n_ctl;
  int32_t *ioff, *ilen, *st, *ooff, *olen;
  uint8_t *otos;
  uint32_t *ctl;
  int64_t start, end;
  if (!bytes_arg(env, argv[1], "in", &in, &in_len) ||
      !typed_of(env, argv[2], "inOff", napi_int32_array, (void **)&ioff, &n_ioff) ||
      !typed_of(env, argv[3], "inLen", napi_int32_array, (void **)&ilen, &n_ilen) ||
      !typed_of(env, argv[4], "status", napi_int32_array, (void **)&st, &n_st) ||
      !arg_int(env, argv[5], "start", 0, INT32_MAX, &start) || !arg_int(env, argv[6], "end", start, INT32_MAX, &end) ||
      !bytes_arg(env, argv[7], "out", &out, &out_len) ||
      !typed_of(env, argv[8], "outOff", napi_int32_array, (void **)&ooff, &n_ooff) ||
      !typed_of(env, argv[9], "outLen", napi_int32_array, (void **)&olen, &n_olen) ||
      !typed_of(env, argv[10], "outTos", napi_uint8_array, (void **)&otos, &n_otos) ||
      !typed_of(env, argv[11], "ctl", napi_uint32_array, (void **)&ctl, &n_ctl))
    return NULL;
  if ((size_t)end > n_ioff || (size_t)end > n_ilen || (size_t)end > n_st || n_ctl < SC_LEN || !sa->encrypt) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "espSeal: arrays shorter than `end`, short ctl, or an inbound SA");
    return NULL;
  }
  size_t cap = n_ooff < n_olen ? n_ooff : n_olen;
  if (n_otos < cap) cap = n_otos;
  seal_ctx_t c = {.sa = sa, .spi = ctl[SC_SPI], .seq_hi = ctl[SC_SEQ_HI], .seq_lo = ctl[SC_SEQ_LO],
                  .iv_hi = ctl[SC_IV_HI], .iv_lo = ctl[SC_IV_LO], .left = ctl[SC_SEQ_LEFT],
                  .esn = (ctl[SC_FLAGS] & SF_ESN) != 0, .nh = (uint8_t)ctl[SC_NEXT_HDR]};
  seal_run_t r = {.in = in, .in_len = in_len, .ioff = ioff, .ilen = ilen, .st = st,
                  .vnet = (ctl[SC_FLAGS] & SF_VNET) != 0, .out = out, .out_len = out_len, .ooff = ooff,
                  .olen = olen, .otos = otos, .cap = cap, .used = ctl[SC_OUT_USED], .count = ctl[SC_OUT_COUNT]};
  int64_t i = esp_seal_items(&c, &r, start, end);
  ctl[SC_SEQ_HI] = c.seq_hi;
  ctl[SC_SEQ_LO] = c.seq_lo;
  ctl[SC_SEQ_LEFT] = c.left;
  ctl[SC_OUT_USED] = (uint32_t)r.used;
  ctl[SC_OUT_COUNT] = (uint32_t)r.count;
  ctl[SC_ITEM_NEXT] = (uint32_t)i;
  ctl[SC_INNER_BYTES] = (uint32_t)r.inner;
  ctl[SC_PACKETS] = r.made;
  ctl[SC_SEGMENTED] = r.segmented;
  return make_int(env, r.made);
}
