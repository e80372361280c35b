// The Reader's wakeup path: drain the fd in batches (read() for a TUN, recvmmsg() for a
// socket) and hand each batch to the JS callback.

#include "reader.h"
#include "fastpath.h"

#include <arpa/inet.h>
#include <netinet/udp.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

// Batches per wakeup: enough to amortize the epoll round trip, few enough that one busy fd
// cannot starve timers and the other fds on the same loop.
#define MAX_BATCHES_PER_WAKEUP 4
// ...and a byte budget on top: with offloads one batch is up to 16 x 64 KiB, and a reader that
// took 4 of them (4 MiB, milliseconds of sealing) per turn would starve the node's other vlinks.
#define MAX_BYTES_PER_WAKEUP (1u << 20)

// Returns packets read (>0), 0 when drained, or -errno.
static int reader_read_batch(reader_t *r) {
  uint32_t n = 0;
  while (n < r->batch) {
    ssize_t got = read(r->fd, reader_packet(r, n), r->slot);
    if (got < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN || e == EWOULDBLOCK) break;
      // Hand over what we have; a persistent error shows up again on the next wakeup.
      return n > 0 ? (int)n : -e;
    }
    r->lens[n++] = (int32_t)got;
  }
  return (int)n;
}

static int reader_recv_batch(reader_t *r) {
  for (uint32_t i = 0; i < r->batch; i++) {
    r->msgs[i].msg_hdr.msg_namelen = sizeof r->sas[i];
    r->msgs[i].msg_hdr.msg_controllen = CTRL_SLOT;
    r->msgs[i].msg_hdr.msg_flags = 0;
    r->msgs[i].msg_len = 0;
  }
  int got;
  do got = recvmmsg(r->fd, r->msgs, r->batch, MSG_DONTWAIT, NULL);
  while (got < 0 && errno == EINTR);
  if (got < 0) {
    int e = errno;
    return (e == EAGAIN || e == EWOULDBLOCK) ? 0 : -e;
  }
  for (int i = 0; i < got; i++) {
    // A truncated datagram is useless to the data plane; -1 tells the wrapper to drop it.
    r->lens[i] = (r->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int32_t)r->msgs[i].msg_len;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&r->sas[i];
    if (r->msgs[i].msg_hdr.msg_namelen >= sizeof(struct sockaddr_in) && sin->sin_family == AF_INET) {
      r->addrs[i] = ntohl(sin->sin_addr.s_addr);
      r->ports[i] = ntohs(sin->sin_port);
    } else if (r->msgs[i].msg_hdr.msg_namelen >= sizeof(struct sockaddr_in6) && r->sas[i].sin6_family == AF_INET6) {
      // [ipv6] an IPv6 underlay socket (sock6.c): the 16 bytes go to addrs6, addrs says 0.
      r->addrs[i] = 0;
      memcpy(r->addrs6 + (size_t)i * 16, &r->sas[i].sin6_addr, 16);
      r->ports[i] = ntohs(r->sas[i].sin6_port);
    } else {
      r->addrs[i] = 0;
      r->ports[i] = 0;
    }
    int16_t t = -1;
    uint16_t g = 0;
    struct msghdr *mh = &r->msgs[i].msg_hdr;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        // UDP GRO coalesced several datagrams of this size (the last may be shorter).
        int v;
        memcpy(&v, CMSG_DATA(c), sizeof v);
        g = v > 0 && v < 65536 ? (uint16_t)v : 0;
        continue;
      }
      // Linux delivers IP_TOS as one byte (ip_cmsg_recv_tos); accept an int as well. IPv6's
      // IPV6_TCLASS (an int) is the same byte for RFC 6040.
      bool tclass = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS;
      if (!tclass && (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_TOS)) continue;
      if (c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        int v;
        memcpy(&v, CMSG_DATA(c), sizeof v);
        t = (int16_t)(v & 0xff);
      } else if (c->cmsg_len >= CMSG_LEN(1)) {
        t = *(const uint8_t *)CMSG_DATA(c);
      }
    }
    r->gso[i] = g;
    r->tos[i] = t;
  }
  return got;
}

// Calls cb(count). A throwing callback becomes an ordinary uncaught exception. Returns false
// when the env can no longer run JS.
static bool reader_deliver(reader_t *r, int count) {
  napi_env env = r->env;
  napi_value cb, self, arg, result;
  if (r->cb_ref == NULL || r->self_ref == NULL) return false;
  if (napi_get_reference_value(env, r->cb_ref, &cb) != napi_ok || cb == NULL) return false;
  if (napi_get_reference_value(env, r->self_ref, &self) != napi_ok || self == NULL) return false;
  if (napi_create_int32(env, count, &arg) != napi_ok) return false;
  r->in_callback = true;
  napi_status st = napi_make_callback(env, r->actx, self, cb, 1, &arg, &result);
  r->in_callback = false;
  if (r->actx_destroy_pending) {
    r->actx_destroy_pending = false;
    napi_async_destroy(env, r->actx);
    r->actx = NULL;
  }
  if (st == napi_pending_exception) {
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    return true;
  }
  return st == napi_ok;
}

void reader_on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  reader_t *r = h->data;
  if (r->closing) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(r->env, &scope) != napi_ok) return;

  if (status < 0) {
    // libuv stops the handle itself on EPOLLERR. For a socket that is usually a pending
    // ICMP error (a raw ESP socket gets "protocol unreachable" from a peer): read it, which
    // clears it, report it, and keep going. Anything else is fatal for this reader.
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    bool is_sock = getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0;
    reader_deliver(r, is_sock && soerr != 0 ? -soerr : status);
    if (!r->closing) {
      if (is_sock && uv_poll_start(&r->poll, UV_READABLE, reader_on_poll) == 0) {
        // resumed
      } else {
        reader_stop(r);
      }
    }
    napi_close_handle_scope(r->env, scope);
    return;
  }

  size_t bytes = 0;
  for (int b = 0; b < MAX_BATCHES_PER_WAKEUP && !r->closing && bytes < MAX_BYTES_PER_WAKEUP; b++) {
    int n = r->mode == MODE_READ ? reader_read_batch(r) : reader_recv_batch(r);
    if (n == 0) break;
    // Counted before the callback: it may change the lengths (the data plane trims in place).
    for (int i = 0; i < n; i++) bytes += r->lens[i] > 0 ? (size_t)r->lens[i] : 0;
    // An established SA's ordinary packets need no JS (fastpath.c); the rest is delivered.
    if (n > 0 && ((r->fast_out != NULL && fast_out_batch(r, n)) || (r->fast_in != NULL && fast_in_batch(r, n)))) {
      if ((uint32_t)n < r->batch) break;
      continue;
    }
    if (!reader_deliver(r, n)) break;
    if (n < 0 || (uint32_t)n < r->batch) break;
  }
  napi_close_handle_scope(r->env, scope);
}
