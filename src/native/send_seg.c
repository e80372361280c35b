// sendSeg: datagrams laid out in one buffer (the sealed output of a TUN batch), all to one peer.
// Runs of back-to-back datagrams of equal size and TOS leave as one sendmsg with UDP_SEGMENT
// (UDP GSO: one trip through the stack for up to 64 datagrams); everything else, and every
// datagram of a raw socket, goes through sendmmsg. If the kernel refuses GSO, the run is sent
// again the ordinary way and the caller is told, so it stops asking.

#include "addon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define MMSG_CHUNK 64
// The kernel's cap on segments per GSO send (UDP_MAX_SEGMENTS), and the IPv4 datagram limit.
#define GSO_MAX_SEGS 64
#define GSO_MAX_BYTES 65000

#define SEG_F_GSO 1

typedef union {
  char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(uint16_t))];
  struct cmsghdr align;
} seg_cmsg_t;

typedef struct sender {
  int fd;
  struct sockaddr_in sa;
  struct mmsghdr msgs[MMSG_CHUNK];
  struct iovec iov[MMSG_CHUNK];
  seg_cmsg_t cms[MMSG_CHUNK];
  unsigned n;
  int64_t accepted;
  int last_err;
  bool stop;  // the socket is full or gone: the rest of the batch is dropped
} sender_t;

// Fills a control buffer with IP_TOS (when non-zero) and UDP_SEGMENT (when gso > 0).
static socklen_t fill_cmsg(seg_cmsg_t *c, int tos, uint16_t gso) {
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_control = c->buf;
  mh.msg_controllen = sizeof c->buf;
  struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
  socklen_t used = 0;
  if (tos != 0) {
    h->cmsg_level = IPPROTO_IP;
    h->cmsg_type = IP_TOS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &tos, sizeof tos);
    used += CMSG_SPACE(sizeof(int));
    h = CMSG_NXTHDR(&mh, h);
  }
  if (gso > 0) {
    h->cmsg_level = SOL_UDP;
    h->cmsg_type = UDP_SEGMENT;
    h->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    memcpy(CMSG_DATA(h), &gso, sizeof gso);
    used += CMSG_SPACE(sizeof(uint16_t));
  }
  return used;
}

static void flush_mmsg(sender_t *s) {
  unsigned done = 0;
  while (done < s->n && !s->stop) {
    int r = sendmmsg(s->fd, s->msgs + done, s->n - done, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r > 0) {
      s->accepted += r;
      done += (unsigned)r;
      continue;
    }
    int e = r == 0 ? EAGAIN : errno;
    if (e == EINTR) continue;
    s->last_err = e;
    // sendmmsg fails only on the first message of the slice: skip just that one unless the
    // socket itself is the problem (full, or not a socket at all).
    if (e == EAGAIN || e == EWOULDBLOCK || e == EBADF || e == ENOTSOCK) s->stop = true;
    else done++;
  }
  s->n = 0;
}

static void queue_one(sender_t *s, uint8_t *data, size_t len, int tos) {
  unsigned j = s->n;
  memset(&s->msgs[j], 0, sizeof s->msgs[j]);
  s->iov[j].iov_base = data;
  s->iov[j].iov_len = len;
  s->msgs[j].msg_hdr.msg_name = &s->sa;
  s->msgs[j].msg_hdr.msg_namelen = sizeof s->sa;
  s->msgs[j].msg_hdr.msg_iov = &s->iov[j];
  s->msgs[j].msg_hdr.msg_iovlen = 1;
  socklen_t cl = fill_cmsg(&s->cms[j], tos, 0);
  if (cl > 0) {
    s->msgs[j].msg_hdr.msg_control = s->cms[j].buf;
    s->msgs[j].msg_hdr.msg_controllen = cl;
  }
  if (++s->n == MMSG_CHUNK) flush_mmsg(s);
}

// One GSO send of `segs` datagrams of `size` bytes (the last may be shorter) starting at data.
// Returns false when the kernel refused GSO itself (the caller falls back).
static bool send_gso(sender_t *s, uint8_t *data, size_t total, uint16_t size, int segs, int tos) {
  struct iovec iov = {.iov_base = data, .iov_len = total};
  seg_cmsg_t cm;
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_name = &s->sa;
  mh.msg_namelen = sizeof s->sa;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cm.buf;
  mh.msg_controllen = fill_cmsg(&cm, tos, size);
  for (;;) {
    ssize_t r = sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r >= 0) {
      s->accepted += segs;
      return true;
    }
    int e = errno;
    if (e == EINTR) continue;
    // No GSO here (an old kernel, or an egress device without checksum offload).
    if (e == EIO || e == ENOPROTOOPT || e == EOPNOTSUPP || e == EINVAL) return false;
    s->last_err = e;
    if (e == EAGAIN || e == EWOULDBLOCK || e == EBADF || e == ENOTSOCK) s->stop = true;
    return true;
  }
}

// sendSeg(fd, buf, off: Int32Array, len: Int32Array, tos: Uint8Array, count, addr (host order),
//         port, flags, status: Int32Array(2)) -> datagrams accepted.
// status[0] = last errno (0 if none), status[1] = 1 when the kernel refused UDP GSO.
napi_value js_send_seg(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  int fd;
  uint8_t *buf, *tos;
  size_t buf_len, n_off, n_len, n_tos, n_st;
  int32_t *off, *len, *status;
  int64_t count, addr, port, flags;
  if (!get_args(env, info, 10, argv, NULL, NULL) || !arg_fd(env, argv[0], &fd) ||
      !bytes_arg(env, argv[1], "buf", &buf, &buf_len) ||
      !typed_of(env, argv[2], "off", napi_int32_array, (void **)&off, &n_off) ||
      !typed_of(env, argv[3], "len", napi_int32_array, (void **)&len, &n_len) ||
      !typed_of(env, argv[4], "tos", napi_uint8_array, (void **)&tos, &n_tos) ||
      !arg_int(env, argv[5], "count", 0, INT32_MAX, &count) || !arg_int(env, argv[6], "addr", 1, UINT32_MAX, &addr) ||
      !arg_int(env, argv[7], "port", 0, 65535, &port) || !arg_int(env, argv[8], "flags", 0, 255, &flags) ||
      !typed_of(env, argv[9], "status", napi_int32_array, (void **)&status, &n_st))
    return NULL;
  if ((size_t)count > n_off || (size_t)count > n_len || (size_t)count > n_tos || n_st < 2) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "sendSeg: arrays shorter than count");
    return NULL;
  }
  for (int64_t i = 0; i < count; i++) {
    if (off[i] < 0 || len[i] < 0 || (size_t)off[i] + (size_t)len[i] > buf_len) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "sendSeg: a datagram lies outside buf");
      return NULL;
    }
  }
  static __thread sender_t s;  // too big for the stack; one per thread (workers load the addon too)
  memset(&s.sa, 0, sizeof s.sa);
  s.fd = fd;
  s.sa.sin_family = AF_INET;
  s.sa.sin_addr.s_addr = htonl((uint32_t)addr);
  s.sa.sin_port = htons((uint16_t)port);
  s.n = 0;
  s.accepted = 0;
  s.last_err = 0;
  s.stop = false;
  bool gso = (flags & SEG_F_GSO) != 0;
  status[1] = 0;
  for (int64_t i = 0; i < count && !s.stop;) {
    // The run starting at i: contiguous, same size (the last may be shorter), same TOS.
    int64_t j = i + 1;
    size_t total = (size_t)len[i];
    if (gso) {
      while (j < count && j - i < GSO_MAX_SEGS && off[j] == off[j - 1] + len[j - 1] && tos[j] == tos[i] &&
             len[j - 1] == len[i] && len[j] <= len[i] && total + (size_t)len[j] <= GSO_MAX_BYTES) {
        total += (size_t)len[j];
        j++;
      }
    }
    if (j - i >= 2) {
      flush_mmsg(&s);
      if (s.stop) break;
      if (send_gso(&s, buf + off[i], total, (uint16_t)len[i], (int)(j - i), tos[i])) {
        i = j;
        continue;
      }
      gso = false;
      status[1] = 1;
      j = i + 1;  // and send this run one by one
    }
    queue_one(&s, buf + off[i], (size_t)len[i], tos[i]);
    i++;
  }
  flush_mmsg(&s);
  status[0] = s.last_err;
  return make_int(env, s.accepted);
}
