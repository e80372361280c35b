// The outbound fast path (see fastpath.h). It takes a batch only when every packet in it is one
// the JS pipeline (dataplane/send.ts) would seal and send with nothing else to do: IPv4 with a
// sane header, within the vlink MTU, no segmentation, the TUN not backlogged, the SA with
// sequence numbers to spare. Anything else (probes, ICMP errors to make, drops, super-packets,
// another IP version) goes to JS whole and untouched, so the two paths never split a batch.
// Sealing is the very loop espSeal runs; the datagrams leave by sendmmsg, each with its TOS as
// sendSeg sends it (an idle link's batches are a packet or two: no UDP GSO runs to build).

#include "fastpath.h"
#include "reader.h"
#include "csum.h"
#include "vnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define FAST_OUT_BYTES (256u << 10)
#define MAX_SEQ_32 4294967295.0

typedef union {
  char buf[CMSG_SPACE(sizeof(int))];
  struct cmsghdr align;
} tos_cmsg_t;

typedef struct fast_out {
  double *v;  // vlink cells (FO_*)
  double *s;  // SA cells (SO_*)
  esp_sa_t *sa;
  napi_ref v_ref, s_ref, sa_ref;
  uint32_t cap;  // items
  int32_t *ioff, *ilen, *st, *ooff, *olen;
  uint8_t *otos, *out;
  struct mmsghdr *msgs;
  struct iovec *iov;
  tos_cmsg_t *cms;
} fast_out_t;

// sendmmsg of the sealed datagrams to addr:port, an IP_TOS control message on each whose TOS is
// not 0 (as send_seg.c does); returns how many the kernel took. A full socket drops the rest,
// another error only the datagram it names.
static int64_t fast_send(fast_out_t *f, int fd, size_t count, uint32_t addr, uint16_t port) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(addr);
  sa.sin_port = htons(port);
  for (size_t j = 0; j < count; j++) {
    struct msghdr *mh = &f->msgs[j].msg_hdr;
    memset(&f->msgs[j], 0, sizeof f->msgs[j]);
    f->iov[j].iov_base = f->out + f->ooff[j];
    f->iov[j].iov_len = (size_t)f->olen[j];
    mh->msg_name = &sa;
    mh->msg_namelen = sizeof sa;
    mh->msg_iov = &f->iov[j];
    mh->msg_iovlen = 1;
    int tos = f->otos[j];
    if (tos != 0) {
      mh->msg_control = f->cms[j].buf;
      mh->msg_controllen = CMSG_SPACE(sizeof(int));
      struct cmsghdr *c = CMSG_FIRSTHDR(mh);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_TOS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(c), &tos, sizeof tos);
    }
  }
  int64_t accepted = 0;
  size_t done = 0;
  while (done < count) {
    int r = sendmmsg(fd, f->msgs + done, (unsigned)(count - done), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r > 0) {
      accepted += r;
      done += (size_t)r;
      continue;
    }
    int e = r == 0 ? EAGAIN : errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK || e == EBADF || e == ENOTSOCK) break;
    done++;
  }
  return accepted;
}

void fast_out_free(napi_env env, reader_t *r) {
  fast_out_t *f = r->fast_out;
  if (f == NULL) return;
  r->fast_out = NULL;
  delete_ref(env, &f->v_ref);
  delete_ref(env, &f->s_ref);
  delete_ref(env, &f->sa_ref);
  free(f->ioff);
  free(f->ilen);
  free(f->st);
  free(f->ooff);
  free(f->olen);
  free(f->otos);
  free(f->out);
  free(f->msgs);
  free(f->iov);
  free(f->cms);
  free(f);
}

// The IPv4 header checks of wire/ipv4.ts ipv4Check, over `l` bytes.
static bool ipv4_ok(const uint8_t *p, int l) {
  if (l < 20 || (p[0] >> 4) != 4) return false;
  int hl = (p[0] & 0x0f) * 4;
  if (hl < 20) return false;
  int total = rd16(p + 2);
  if (total < hl || total > l) return false;
  return cs_fold(cs_add(0, p, (size_t)hl)) == 0xffff;
}

bool fast_out_batch(reader_t *r, int n) {
  fast_out_t *f = r->fast_out;
  if (f == NULL || f->v[FO_ON] != 1.0) return false;
  double *v = f->v, *s = f->s;
  // A full read means a backlog: JS picks a victim for fair dropping (send.ts).
  if (n <= 0 || (uint32_t)n >= r->batch || (uint32_t)n > f->cap) goto fallback;
  if (s[SO_SEQ] + n > s[SO_SEQ_MAX]) goto fallback;
  bool vnet = v[FO_VNET] == 1.0;
  int vh = vnet ? VNET_HDR_LEN : 0;
  int mtu = (int)v[FO_MTU];
  size_t need = 0;
  for (int i = 0; i < n; i++) {
    int l = r->lens[i] - vh;
    const uint8_t *p = reader_packet(r, (uint32_t)i) + vh;
    if (l <= 0 || !ipv4_ok(p, l)) goto fallback;
    int total = rd16(p + 2);
    if (total > mtu) goto fallback;
    if (vnet) {
      int gso = 0;
      if (esp_seal_plan(p, total, p - VNET_HDR_LEN, &gso) != ST_OK || gso != 0) goto fallback;
    }
    f->ioff[i] = (int32_t)((size_t)i * r->stride + r->headroom + (size_t)vh);
    f->ilen[i] = total;
    f->st[i] = ST_OK;
    need += (size_t)total + ESP_FIXED_OVERHEAD + 3;
  }
  if (need > FAST_OUT_BYTES) goto fallback;

  double seq = s[SO_SEQ], left = s[SO_SEQ_MAX] - seq;
  seal_ctx_t c = {.sa = f->sa, .spi = (uint32_t)s[SO_SPI], .seq_hi = (uint32_t)(seq / 4294967296.0),
                  .seq_lo = (uint32_t)(seq - (double)(uint32_t)(seq / 4294967296.0) * 4294967296.0),
                  .iv_hi = (uint32_t)s[SO_IV_HI], .iv_lo = (uint32_t)s[SO_IV_LO],
                  .left = (uint32_t)(left < MAX_SEQ_32 ? left : MAX_SEQ_32), .esn = s[SO_ESN] == 1.0,
                  .nh = 4 /* IPIP */};
  seal_run_t run = {.in = r->data, .in_len = (size_t)r->stride * r->batch, .ioff = f->ioff, .ilen = f->ilen,
                    .st = f->st, .vnet = vnet, .out = f->out, .out_len = FAST_OUT_BYTES, .ooff = f->ooff,
                    .olen = f->olen, .otos = f->otos, .cap = f->cap};
  esp_seal_items(&c, &run, 0, n);
  s[SO_SEQ] = (double)c.seq_hi * 4294967296.0 + (double)c.seq_lo;
  s[SO_PACKETS] += run.made;
  s[SO_BYTES] += (double)run.inner;
  v[FO_TX_PACKETS] += run.made;
  v[FO_TX_BYTES] += (double)run.inner;
  // Only OpenSSL failing can leave an item unsealed here: the checks above ruled out the rest.
  for (int i = 0; i < n; i++) if (f->st[i] < 0) v[FO_INTERNAL] += 1;
  if (run.count > 0) {
    int64_t sent = fast_send(f, (int)v[FO_FD], run.count, (uint32_t)v[FO_ADDR], (uint16_t)v[FO_PORT]);
    if (sent < (int64_t)run.count) v[FO_SEND_ERR] += (double)((int64_t)run.count - sent);
  }
  v[FO_BATCHES] += 1;
  return true;

fallback:
  v[FO_FALLBACKS] += 1;
  return false;
}

static bool cells(napi_env env, napi_value val, const char *what, size_t want, double **out, napi_ref *ref) {
  size_t n;
  return typed_ref(env, val, what, napi_float64_array, want, (void **)out, &n, ref);
}

// fastOutSet(reader, vlinkCells: Float64Array | null, saCells: Float64Array, sa: EspSa): installs
// (or, with null, removes) the fast path on a TUN reader. The arrays stay referenced until then.
napi_value js_fast_out_set(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv, NULL, NULL)) return NULL;
  void *p = NULL;
  if (napi_unwrap(env, argv[0], &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "fastOutSet: not a Reader");
    return NULL;
  }
  reader_t *r = p;
  if (r->mode != MODE_READ) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "fastOutSet: not a TUN ('read') reader");
    return NULL;
  }
  fast_out_free(env, r);
  napi_valuetype t;
  NAPI_CALL(env, napi_typeof(env, argv[1], &t));
  if (t == napi_null || t == napi_undefined) return make_undefined(env);
  esp_sa_t *sa = esp_sa_arg(env, argv[3]);
  if (sa == NULL) return NULL;
  if (!sa->encrypt) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "fastOutSet: an inbound SA");
    return NULL;
  }
  fast_out_t *f = calloc(1, sizeof *f);
  if (f == NULL) {
    throw_errno(env, "calloc", "fastOutSet", 12);
    return NULL;
  }
  r->fast_out = f;
  f->sa = sa;
  f->cap = r->batch;
  f->ioff = calloc(f->cap, sizeof *f->ioff);
  f->ilen = calloc(f->cap, sizeof *f->ilen);
  f->st = calloc(f->cap, sizeof *f->st);
  f->ooff = calloc(f->cap, sizeof *f->ooff);
  f->olen = calloc(f->cap, sizeof *f->olen);
  f->otos = calloc(f->cap, 1);
  f->out = malloc(FAST_OUT_BYTES);
  f->msgs = calloc(f->cap, sizeof *f->msgs);
  f->iov = calloc(f->cap, sizeof *f->iov);
  f->cms = calloc(f->cap, sizeof *f->cms);
  if (!f->ioff || !f->ilen || !f->st || !f->ooff || !f->olen || !f->otos || !f->out || !f->msgs || !f->iov || !f->cms) {
    fast_out_free(env, r);
    throw_errno(env, "calloc", "fastOutSet", 12);
    return NULL;
  }
  if (!cells(env, argv[1], "vlinkCells", FO_LEN, &f->v, &f->v_ref) ||
      !cells(env, argv[2], "saCells", SO_LEN, &f->s, &f->s_ref) ||
      napi_create_reference(env, argv[3], 1, &f->sa_ref) != napi_ok) {
    fast_out_free(env, r);
    return NULL;
  }
  return make_undefined(env);
}
