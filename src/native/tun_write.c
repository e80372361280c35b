// tunWrite: packets laid out in one buffer (decrypted in place by the receive path) into a TUN.
// With IFF_VNET_HDR every write starts with a virtio_net_hdr; with GRO on, consecutive TCP
// segments of one flow are coalesced into one super-packet per write (writev: the headers of
// the first segment, rewritten, then each segment's payload where it lies), which the kernel
// takes as one GSO packet: one trip through its stack instead of one per segment.
//
// A segment joins a flow only if the result is exactly what the sender's TSO would have cut
// into these segments: same addresses, ports, TOS, TTL, DF, ack, window and options, IPv4 IDs
// counting up by one, sequence numbers back to back, every segment but the last of the same
// size, and a valid TCP checksum (the super-packet's checksum is left to the kernel, so a bad
// segment must not be laundered into a good one). SYN, FIN, RST, URG and CWR are never merged;
// PSH ends a flow. Anything else is written as it came, after its flow's pending segments.

#include "addon.h"
#include "csum.h"
#include "vnet.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <unistd.h>

#define TW_VNET 1
#define TW_GRO 2

// Test-only: instead of writing, collect each write as (u32 length, bytes) records.
#define CAPTURE_MAX (4u << 20)

#define GRO_FLOWS 8
#define GRO_MAX_SEGS 64

typedef struct seg {
  const uint8_t *pkt;
  int len;
} seg_t;

typedef struct flow {
  bool open;
  bool closed;   // nothing more may join (a short segment, or PSH)
  bool psh;
  int thl, mss, nseg, total;
  uint32_t next_seq;
  uint16_t next_id;
  uint8_t hdr[20 + 60];
  seg_t segs[GRO_MAX_SEGS];
} flow_t;

typedef struct writer {
  int fd;
  bool vnet, gro;
  int64_t written;
  int last_err;
  bool stop;
  bool gso_refused;
  flow_t flows[GRO_FLOWS];
  struct iovec iov[GRO_MAX_SEGS + 2];
  uint8_t *capture;  // non-NULL: the test-only capture mode
  size_t captured;
} writer_t;

static const uint8_t ZERO_VNET[VNET_HDR_LEN] = {0};

static bool capture(writer_t *w, struct iovec *iov, int n) {
  size_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  if (w->captured + 4 + total > CAPTURE_MAX) {
    w->last_err = ENOSPC;
    w->stop = true;
    return false;
  }
  uint32_t l = (uint32_t)total;
  memcpy(w->capture + w->captured, &l, 4);
  w->captured += 4;
  for (int i = 0; i < n; i++) {
    memcpy(w->capture + w->captured, iov[i].iov_base, iov[i].iov_len);
    w->captured += iov[i].iov_len;
  }
  return true;
}

static bool writev_all(writer_t *w, struct iovec *iov, int n) {
  if (w->capture != NULL) return capture(w, iov, n);
  for (;;) {
    if (writev(w->fd, iov, n) >= 0) return true;
    int e = errno;
    if (e == EINTR) continue;
    w->last_err = e;
    // A full queue will still be full for the next packet; an error per packet (EIO on a down
    // link, EINVAL for a malformed one) is not.
    if (e == EAGAIN || e == EWOULDBLOCK || e == EBADF) w->stop = true;
    return false;
  }
}

static void write_single(writer_t *w, const uint8_t *pkt, int len) {
  if (w->stop) return;
  struct iovec iov[2];
  int n = 0;
  if (w->vnet) iov[n++] = (struct iovec){(void *)ZERO_VNET, VNET_HDR_LEN};
  iov[n++] = (struct iovec){(void *)pkt, (size_t)len};
  if (writev_all(w, iov, n)) w->written++;
}

static void flush(writer_t *w, flow_t *f) {
  if (!f->open) return;
  f->open = false;
  if (f->nseg == 1) {
    write_single(w, f->segs[0].pkt, f->segs[0].len);
    return;
  }
  if (w->stop) return;
  uint8_t *ip = f->hdr;
  uint8_t *th = ip + 20;
  wr16(ip + 2, (uint16_t)f->total);
  cs_ipv4_header(ip);
  if (f->psh) th[13] |= 0x08;
  // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, the kernel does the rest.
  uint16_t partial = cs_fold(cs_pseudo4(0, ip + 12, ip + 16, IPPROTO_TCP, (uint32_t)(f->total - 20)));
  memcpy(th + 16, &partial, 2);
  vnet_hdr_t h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                  .hdr_len = (uint16_t)(20 + f->thl), .gso_size = (uint16_t)f->mss,
                  .csum_start = 20, .csum_offset = 16};
  uint8_t vh[VNET_HDR_LEN];
  vnet_write(vh, &h);
  int n = 0;
  w->iov[n++] = (struct iovec){vh, VNET_HDR_LEN};
  w->iov[n++] = (struct iovec){ip, (size_t)(20 + f->thl)};
  for (int k = 0; k < f->nseg; k++) {
    int hl = 20 + f->thl;
    w->iov[n++] = (struct iovec){(void *)(f->segs[k].pkt + hl), (size_t)(f->segs[k].len - hl)};
  }
  if (writev_all(w, w->iov, n)) {
    w->written += f->nseg;
    return;
  }
  if (w->last_err != EINVAL || w->stop) return;
  // The kernel refused the super-packet itself: the segments go one by one, and GRO stops.
  w->gso_refused = true;
  w->gro = false;
  w->last_err = 0;
  for (int k = 0; k < f->nseg; k++) write_single(w, f->segs[k].pkt, f->segs[k].len);
}

static void flush_all(writer_t *w) {
  for (int k = 0; k < GRO_FLOWS; k++) flush(w, &w->flows[k]);
}

// A TCP segment that may be coalesced: the ordinary shape with payload, options allowed,
// ACK set and none of SYN, FIN, RST, URG, CWR; a valid checksum.
static bool gro_candidate(const uint8_t *p, int len) {
  if (len < 40 || p[0] != 0x45 || p[9] != IPPROTO_TCP || rd16(p + 2) != len || (rd16(p + 6) & 0x3fff) != 0)
    return false;
  const uint8_t *th = p + 20;
  int thl = (th[12] >> 4) * 4;
  if (thl < 20 || 20 + thl >= len) return false;
  if ((th[13] & 0x10) == 0 || (th[13] & (0x01 | 0x02 | 0x04 | 0x20 | 0x80)) != 0) return false;
  uint64_t s = cs_pseudo4(0, p + 12, p + 16, IPPROTO_TCP, (uint32_t)(len - 20));
  return cs_fold(cs_add(s, th, (size_t)(len - 20))) == 0xffff;
}

static bool same_conn(const uint8_t *a, const uint8_t *b) {
  // Addresses (12..19) and ports (20..23) of two IPv4/TCP packets without IP options.
  return memcmp(a + 12, b + 12, 12) == 0;
}

static bool can_join(const flow_t *f, const uint8_t *p, int len) {
  const uint8_t *ip = f->hdr, *th = ip + 20, *pt = p + 20;
  int thl = (pt[12] >> 4) * 4;
  int payload = len - 20 - thl;
  return !f->closed && f->nseg < GRO_MAX_SEGS && thl == f->thl && payload <= f->mss &&
         f->total + payload <= 65535 &&
         p[1] == ip[1] && p[8] == ip[8] && rd16(p + 6) == rd16(ip + 6) && rd16(p + 4) == f->next_id &&
         rd32(pt + 4) == f->next_seq && rd32(pt + 8) == rd32(th + 8) &&
         (pt[13] & (uint8_t)~0x08) == (th[13] & (uint8_t)~0x08) && rd16(pt + 14) == rd16(th + 14) &&
         memcmp(pt + 20, th + 20, (size_t)(thl - 20)) == 0;
}

static void join(flow_t *f, const uint8_t *p, int len) {
  int payload = len - 20 - f->thl;
  f->segs[f->nseg++] = (seg_t){p, len};
  f->total += payload;
  f->next_seq += (uint32_t)payload;
  f->next_id++;
  if (p[33] & 0x08) f->psh = f->closed = true;
  if (payload < f->mss) f->closed = true;
}

static void start_flow(flow_t *f, const uint8_t *p, int len) {
  const uint8_t *th = p + 20;
  f->open = true;
  f->thl = (th[12] >> 4) * 4;
  memcpy(f->hdr, p, (size_t)(20 + f->thl));
  f->mss = len - 20 - f->thl;
  f->nseg = 0;
  f->total = 20 + f->thl;
  f->next_seq = rd32(th + 4);
  f->next_id = rd16(p + 4);
  f->psh = f->closed = false;
  f->hdr[33] &= (uint8_t)~0x08;  // PSH goes back on at flush if the last segment had it
  join(f, p, len);
}

static void gro_packet(writer_t *w, const uint8_t *p, int len) {
  bool tcp = len >= 40 && (p[0] >> 4) == 4 && p[9] == IPPROTO_TCP && (p[0] & 0x0f) == 5;
  flow_t *mine = NULL;
  if (tcp) {
    for (int k = 0; k < GRO_FLOWS; k++)
      if (w->flows[k].open && same_conn(w->flows[k].hdr, p)) mine = &w->flows[k];
  }
  if (!tcp || !gro_candidate(p, len)) {
    if (mine) flush(w, mine);  // keep the connection's order
    write_single(w, p, len);
    return;
  }
  if (mine && can_join(mine, p, len)) {
    join(mine, p, len);
    return;
  }
  if (mine) flush(w, mine);
  flow_t *f = NULL;
  for (int k = 0; k < GRO_FLOWS && f == NULL; k++)
    if (!w->flows[k].open) f = &w->flows[k];
  if (f == NULL) {
    f = &w->flows[0];
    flush(w, f);
  }
  start_flow(f, p, len);
}

static void run(writer_t *w, const uint8_t *buf, const int32_t *off, const int32_t *len, int64_t count, int64_t flags) {
  w->vnet = (flags & TW_VNET) != 0;
  w->gro = w->vnet && (flags & TW_GRO) != 0;
  w->written = 0;
  w->last_err = 0;
  w->stop = false;
  w->gso_refused = false;
  for (int k = 0; k < GRO_FLOWS; k++) w->flows[k].open = false;
  for (int64_t i = 0; i < count && !w->stop; i++) {
    if (w->gro) {
      gro_packet(w, buf + off[i], len[i]);
      continue;
    }
    flush_all(w);  // GRO may have been refused in this very batch: keep the order
    write_single(w, buf + off[i], len[i]);
  }
  flush_all(w);
}

// Shared argument checks of tunWrite and its test-only capture twin.
static bool packet_args(napi_env env, napi_value *argv, uint8_t **buf, int32_t **off, int32_t **len, int64_t *count,
                        int64_t *flags) {
  size_t buf_len, n_off, n_len;
  if (!bytes_arg(env, argv[0], "buf", buf, &buf_len) ||
      !typed_of(env, argv[1], "off", napi_int32_array, (void **)off, &n_off) ||
      !typed_of(env, argv[2], "len", napi_int32_array, (void **)len, &n_len) ||
      !arg_int(env, argv[3], "count", 0, INT32_MAX, count) || !arg_int(env, argv[4], "flags", 0, 3, flags))
    return false;
  if ((size_t)*count > n_off || (size_t)*count > n_len) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "tunWrite: arrays shorter than count");
    return false;
  }
  for (int64_t i = 0; i < *count; i++) {
    if ((*off)[i] < 0 || (*len)[i] < 1 || (size_t)(*off)[i] + (size_t)(*len)[i] > buf_len) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "tunWrite: a packet lies outside buf");
      return false;
    }
  }
  return true;
}

// tunWrite(fd, buf, off: Int32Array, len: Int32Array, count, flags, status: Int32Array(2))
//   -> packets written (a coalesced super-packet counts as its segments). status[0] = last
// errno (0 if none); status[1] = 1 when the kernel refused a coalesced packet (GRO off now).
napi_value js_tun_write(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  int fd;
  uint8_t *buf;
  int32_t *off, *len, *status;
  int64_t count, flags;
  size_t n_st;
  if (!get_args(env, info, 7, argv, NULL, NULL) || !arg_fd(env, argv[0], &fd) ||
      !packet_args(env, argv + 1, &buf, &off, &len, &count, &flags) ||
      !typed_of(env, argv[6], "status", napi_int32_array, (void **)&status, &n_st))
    return NULL;
  if (n_st < 2) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "tunWrite: status needs 2 elements");
    return NULL;
  }
  static __thread writer_t w;
  w.fd = fd;
  w.capture = NULL;
  run(&w, buf, off, len, count, flags);
  status[0] = w.last_err;
  status[1] = w.gso_refused ? 1 : 0;
  return make_int(env, w.written);
}

// testOnly.tunWriteCapture(buf, off, len, count, flags) -> Buffer of (u32 host-order length,
// bytes) records, one per write tunWrite would have made (virtio_net_hdr included with TW_VNET).
napi_value js_tun_write_capture(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  uint8_t *buf;
  int32_t *off, *len;
  int64_t count, flags;
  if (!get_args(env, info, 5, argv, NULL, NULL) || !packet_args(env, argv, &buf, &off, &len, &count, &flags))
    return NULL;
  static __thread writer_t w;
  w.fd = -1;
  w.capture = malloc(CAPTURE_MAX);
  if (w.capture == NULL) {
    throw_errno(env, "malloc", "capture", ENOMEM);
    return NULL;
  }
  w.captured = 0;
  run(&w, buf, off, len, count, flags);
  napi_value out;
  void *data;
  napi_status st = napi_create_buffer_copy(env, w.captured, w.capture, &data, &out);
  free(w.capture);
  w.capture = NULL;
  if (st != napi_ok) {
    napi_throw_error(env, "ERR_NAPI", "capture buffer");
    return NULL;
  }
  return out;
}

// tunWrite's writes for the fast path (fastpath_in.c): flags TW_*; *gso_refused when the kernel
// refused a coalesced packet, *last_err the last errno. Returns packets written.
int64_t tun_write_run(int fd, const uint8_t *buf, const int32_t *off, const int32_t *len, int64_t count, int flags,
                      bool *gso_refused, int *last_err) {
  static __thread writer_t w;
  w.fd = fd;
  w.capture = NULL;
  run(&w, buf, off, len, count, flags);
  *gso_refused = w.gso_refused;
  *last_err = w.last_err;
  return w.written;
}
