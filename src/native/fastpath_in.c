// The inbound fast path (see fastpath.h). A UDP reader's batch is taken only when every
// datagram in it is an ESP packet of an SA JS installed here and receive.ts would deliver it
// to the vlink's TUN with nothing else to do: from the SA's peer address and port, new to the
// replay window (the JS ReplayWindow's own memory), authentic, well padded, next header IPIP,
// a sane inner IPv4 packet whose ECN needs no change. Each datagram is copied aside before it
// is decrypted in place, so a batch with anything else in it (keepalives, IKE, probes, replays,
// forgeries, a moved NAT port, GRO trains, DHCP) is restored and handed to JS untouched, which then
// does and counts exactly what it always did. Only ESN-less SAs are installed.

#include "fastpath.h"
#include "reader.h"
#include "csum.h"

#include <stdlib.h>
#include <string.h>

#define FAST_IN_MAX 64
#define FAST_IN_BYTES (64u << 10)
#define TW_VNET 1
#define TW_GRO 2

typedef struct fin_sa {
  uint32_t spi;
  esp_sa_t *sa;
  double *v;     // the vlink's cells (FI_*)
  double *c;     // the SA's cells (SI_*)
  double *top;   // the replay window's highest sequence number (replay-window.ts)
  uint32_t *bits;
  uint32_t words, size;
  napi_ref v_ref, c_ref, top_ref, bits_ref, sa_ref;
} fin_sa_t;

typedef struct fast_in {
  fin_sa_t e[FAST_IN_MAX];
  int n;
  uint8_t *save;  // ciphertexts kept aside until the batch is known to be ours
  int32_t off[MAX_BATCH], len[MAX_BATCH];
  fin_sa_t *sa_of[MAX_BATCH];
  uint32_t seq_of[MAX_BATCH];
  int32_t pay_of[MAX_BATCH];
} fast_in_t;

static void entry_free(napi_env env, fin_sa_t *e) {
  delete_ref(env, &e->v_ref);
  delete_ref(env, &e->c_ref);
  delete_ref(env, &e->top_ref);
  delete_ref(env, &e->bits_ref);
  delete_ref(env, &e->sa_ref);
  memset(e, 0, sizeof *e);
}

void fast_in_free(napi_env env, reader_t *r) {
  fast_in_t *f = r->fast_in;
  if (f == NULL) return;
  r->fast_in = NULL;
  for (int i = 0; i < f->n; i++) entry_free(env, &f->e[i]);
  free(f->save);
  free(f);
}

static fin_sa_t *find(fast_in_t *f, uint32_t spi) {
  for (int i = 0; i < f->n; i++)
    if (f->e[i].spi == spi) return &f->e[i];
  return NULL;
}

// replay-window.ts check() without ESN: true when seq may be accepted.
static bool replay_ok(const fin_sa_t *e, uint32_t seq) {
  double top = *e->top;
  if (seq == 0) return false;
  if ((double)seq > top) return true;
  if ((double)seq + e->size <= top) return false;
  return (e->bits[(seq / 32) % e->words] & (1u << (seq % 32))) == 0;
}

// replay-window.ts accept().
static void replay_accept(fin_sa_t *e, uint32_t seq) {
  double top = *e->top;
  if ((double)seq > top) {
    uint64_t old_block = (uint64_t)top / 32, new_block = seq / 32;
    if (new_block - old_block >= e->words) memset(e->bits, 0, e->words * 4);
    else
      for (uint64_t b = old_block + 1; b <= new_block; b++) e->bits[b % e->words] = 0;
    *e->top = seq;
  }
  e->bits[(seq / 32) % e->words] |= 1u << (seq % 32);
}

// wire/ipip.ts DECAP_ECN (RFC 6040 normal mode): -1 drop.
static const int8_t DECAP_ECN[4][4] = {{0, 1, 2, 3}, {0, 1, 1, 3}, {0, 1, 2, 3}, {-1, 3, 3, 3}};

static bool inner_ok(const uint8_t *p, int l) {
  if (l < 20 || (p[0] >> 4) != 4) return false;
  int hl = (p[0] & 0x0f) * 4;
  if (hl < 20) return false;
  int total = rd16(p + 2);
  if (total < hl || total > l) return false;
  return cs_fold(cs_add(0, p, (size_t)hl)) == 0xffff;
}

// Opens datagram k in place; false when receive.ts would do anything but deliver it.
static bool open_one(fin_sa_t *e, uint8_t *esp, int l, int16_t tos, int32_t *payload_out) {
  uint8_t aad[12];
  int aad_len = esp_aad(aad, e->spi, 0, rd32(esp + 4), false);
  int ct_len = l - ESP_PAYLOAD_OFF - ESP_ICV_LEN;
  uint8_t *pt = esp + ESP_PAYLOAD_OFF;
  if (!aead_begin(e->sa, esp + ESP_HDR_LEN, aad, aad_len) || !aead_update(e->sa, pt, pt, ct_len) ||
      !aead_open_end(e->sa, pt + ct_len))
    return false;
  int pad = pt[ct_len - 2];
  int payload = ct_len - 2 - pad;
  if (payload < 0) return false;
  for (int k = 0; k < pad; k++)
    if (pt[payload + k] != (uint8_t)(k + 1)) return false;
  if (pt[ct_len - 1] != 4 /* IPIP */ || !inner_ok(pt, payload)) return false;
  // DHCP inside the vlink may be for the node itself (the receive path's onLocal hook on main):
  // any UDP to or from ports 67/68 is left to JS.
  int hl = (pt[0] & 0x0f) * 4;
  if (pt[9] == 17 && (rd16(pt + 6) & 0x1fff) == 0 && rd16(pt + 2) >= hl + 8) {
    int sp = rd16(pt + hl), dp = rd16(pt + hl + 2);
    if (sp == 67 || sp == 68 || dp == 67 || dp == 68) return false;
  }
  if (tos >= 0) {
    int inner = pt[1] & 3;
    if (DECAP_ECN[tos & 3][inner] != inner) return false;
  }
  *payload_out = payload;
  return true;
}

bool fast_in_batch(reader_t *r, int n) {
  fast_in_t *f = r->fast_in;
  if (f == NULL || f->n == 0 || n <= 0) return false;
  // The cheap disqualifiers first, for the whole batch, so a bulk batch with a GRO train or IKE
  // in it costs no decryption before it goes to JS.
  size_t total = 0;
  fin_sa_t *first = NULL;
  for (int j = 0; j < n; j++) {
    int32_t l = r->lens[j];
    fin_sa_t *e = l >= ESP_FIXED_OVERHEAD ? find(f, rd32(reader_packet(r, (uint32_t)j))) : NULL;
    if (first == NULL) first = e;
    total += l > 0 ? (size_t)l : 0;
    if (e == NULL || r->gso[j] != 0 || total > FAST_IN_BYTES) {
      if (first != NULL) first->v[FI_FALLBACKS] += 1;
      return false;
    }
  }
  size_t saved = 0;
  int k = 0;
  bool ours = true;
  fin_sa_t *any = NULL;
  for (; k < n; k++) {
    int32_t l = r->lens[k];
    uint8_t *p = reader_packet(r, (uint32_t)k);
    if (l < ESP_FIXED_OVERHEAD || r->gso[k] != 0) break;
    fin_sa_t *e = find(f, rd32(p));
    if (e == NULL) break;
    any = e;
    uint32_t seq = rd32(p + 4);
    if (e->c[SI_ON] != 1.0 || r->addrs[k] != (uint32_t)e->c[SI_SRC] || r->ports[k] != (uint16_t)e->c[SI_PORT] ||
        !replay_ok(e, seq) || saved + (size_t)l > FAST_IN_BYTES)
      break;
    bool dup = false;
    for (int j = 0; j < k && !dup; j++) dup = f->sa_of[j] == e && f->seq_of[j] == seq;
    if (dup) break;
    memcpy(f->save + saved, p, (size_t)l);
    saved += (size_t)l;
    f->sa_of[k] = e;
    f->seq_of[k] = seq;
    if (!open_one(e, p, l, r->tos[k], &f->pay_of[k])) {
      ours = false;
      k++;  // restored below with the others
      break;
    }
  }
  if (!ours || k < n) {
    // Not ours after all: every datagram goes back to the bytes that arrived, for JS.
    size_t at = 0;
    for (int j = 0; j < k && at < saved; j++) {
      int32_t l = r->lens[j];
      memcpy(reader_packet(r, (uint32_t)j), f->save + at, (size_t)l);
      at += (size_t)l;
    }
    if (any != NULL) any->v[FI_FALLBACKS] += 1;
    return false;
  }
  // Ours: what receive.ts's deliver() does for each, then one TUN write per vlink run.
  int start = 0;
  for (int j = 0; j < n; j++) {
    fin_sa_t *e = f->sa_of[j];
    uint8_t *p = reader_packet(r, (uint32_t)j) + ESP_PAYLOAD_OFF;
    replay_accept(e, f->seq_of[j]);
    e->c[SI_PACKETS] += 1;
    e->c[SI_BYTES] += f->pay_of[j];
    int inner = rd16(p + 2);
    e->v[FI_RX_PACKETS] += 1;
    e->v[FI_RX_BYTES] += inner;
    e->v[FI_ALIVE] = 1;
    f->off[j] = (int32_t)((size_t)j * r->stride + r->headroom + ESP_PAYLOAD_OFF);
    f->len[j] = inner;
    if (j + 1 == n || f->sa_of[j + 1]->v != e->v) {
      double *v = e->v;
      bool refused = false;
      int err = 0, flags = (int)v[FI_TUN_FLAGS];
      int64_t w = tun_write_run((int)v[FI_TUN_FD], r->data, f->off + start, f->len + start, j + 1 - start, flags,
                                &refused, &err);
      if (refused) v[FI_TUN_FLAGS] = flags & ~TW_GRO;
      if (w < j + 1 - start) v[FI_TUN_WRITE] += (double)(j + 1 - start - w);
      v[FI_BATCHES] += 1;
      start = j + 1;
    }
  }
  return true;
}

// fastInSet(reader, spi, vlinkCells: Float64Array | null, saCells: Float64Array, top: Float64Array,
//           bits: Uint32Array, size, sa: EspSa): installs the inbound state of one SA on a UDP
// reader, or with null cells removes it (spi -1: all of them).
napi_value js_fast_in_set(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  if (!get_args(env, info, 8, argv, NULL, NULL)) return NULL;
  void *p = NULL;
  if (napi_unwrap(env, argv[0], &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "fastInSet: not a Reader");
    return NULL;
  }
  reader_t *r = p;
  if (r->mode != MODE_RECVMMSG) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "fastInSet: not a socket ('recvmmsg') reader");
    return NULL;
  }
  int64_t spi;
  if (!arg_int(env, argv[1], "spi", -1, UINT32_MAX, &spi)) return NULL;
  napi_valuetype t;
  NAPI_CALL(env, napi_typeof(env, argv[2], &t));
  bool remove = t == napi_null || t == napi_undefined;
  fast_in_t *f = r->fast_in;
  if (spi < 0) {
    if (remove) fast_in_free(env, r);
    return make_undefined(env);
  }
  if (f != NULL) {
    fin_sa_t *e = find(f, (uint32_t)spi);
    if (e != NULL) {
      entry_free(env, e);
      *e = f->e[--f->n];
      memset(&f->e[f->n], 0, sizeof f->e[f->n]);
    }
  }
  if (remove) return make_undefined(env);
  if (f == NULL) {
    f = calloc(1, sizeof *f);
    if (f == NULL || (f->save = malloc(FAST_IN_BYTES)) == NULL) {
      free(f);
      throw_errno(env, "calloc", "fastInSet", 12);
      return NULL;
    }
    r->fast_in = f;
  }
  if (f->n == FAST_IN_MAX) return make_undefined(env);  // that SA stays on the JS path
  esp_sa_t *sa = esp_sa_arg(env, argv[7]);
  if (sa == NULL) return NULL;
  if (sa->encrypt) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "fastInSet: an outbound SA");
    return NULL;
  }
  int64_t size;
  if (!arg_int(env, argv[6], "size", 32, 1 << 20, &size)) return NULL;
  fin_sa_t *e = &f->e[f->n];
  size_t nv, nc, nt, nb;
  e->spi = (uint32_t)spi;
  e->sa = sa;
  e->size = (uint32_t)size;
  if (!typed_ref(env, argv[2], "vlinkCells", napi_float64_array, FO_LEN, (void **)&e->v, &nv, &e->v_ref) ||
      !typed_ref(env, argv[3], "saCells", napi_float64_array, SI_LEN, (void **)&e->c, &nc, &e->c_ref) ||
      !typed_ref(env, argv[4], "top", napi_float64_array, 1, (void **)&e->top, &nt, &e->top_ref) ||
      !typed_ref(env, argv[5], "bits", napi_uint32_array, (size_t)size / 32 + 1, (void **)&e->bits, &nb, &e->bits_ref) ||
      napi_create_reference(env, argv[7], 1, &e->sa_ref) != napi_ok) {
    entry_free(env, e);
    return NULL;
  }
  e->words = (uint32_t)nb;
  f->n++;
  return make_undefined(env);
}
