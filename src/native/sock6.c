// IPv6 underlay sockets (issue #10): UDP for RFC 3948 over IPv6 and raw ESP (next header 50),
// their names, and the batched send with a per-datagram traffic class. Kept apart from the
// IPv4 sockets.c. batch.c sends for both families (sendBatch6 hands over to it), and the
// Reader learned to hand over 16-byte source addresses (reader_poll.c, `addrs6`) and IPV6_TCLASS.
//
// Addresses cross the boundary as text for setup (udp6Open, raw6Open, sockName6) and as 16
// network-order bytes per datagram on the batch path (sendBatch6's `addrs`, the Reader's addrs6).

#include "addon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SOCK6_BUF_BYTES (1 << 20)

// Text IPv6 address (no zone) to in6_addr; throws and returns false otherwise.
static bool arg_ipv6(napi_env env, napi_value v, struct in6_addr *out) {
  char buf[64];
  size_t len = 0;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string ||
      napi_get_value_string_utf8(env, v, buf, sizeof buf, &len) != napi_ok || len >= sizeof buf - 1 ||
      inet_pton(AF_INET6, buf, out) != 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "address must be an IPv6 address string");
    return false;
  }
  return true;
}

// The IPv4 sockets' settings, for IPv6: 1 MiB buffers; IPV6_PMTUDISC_PROBE so a stray Packet
// Too Big never turns sends into EMSGSIZE (the data plane sizes outer packets to underlay.mtu,
// and an IPv6 host must not fragment them either); IPv6 only, so the socket never sees mapped
// IPv4; and the traffic class of each datagram received, for RFC 6040 decapsulation.
static int prepare6(int fd, bool raw) {
  int sz = SOCK6_BUF_BYTES;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0) (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0) (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  int probe = IPV6_PMTUDISC_PROBE;
  (void)setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe, sizeof probe);
  int on = 1;
  // A raw IPv6 socket sees IPv6 only anyway, and the kernel refuses the option on it (EINVAL).
  if (!raw && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) < 0) return errno;
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof on) < 0) return errno;
  return 0;
}

static napi_value open6(napi_env env, int type, int proto, napi_value addr_v, int64_t port) {
  struct sockaddr_in6 sa;
  memset(&sa, 0, sizeof sa);
  if (!arg_ipv6(env, addr_v, &sa.sin6_addr)) return NULL;
  int fd = socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) {
    throw_errno(env, "socket", type == SOCK_RAW ? "raw6" : "udp6", errno);
    return NULL;
  }
  int e = prepare6(fd, type == SOCK_RAW);
  if (e != 0) {
    close(fd);
    throw_errno(env, "setsockopt", "IPV6_V6ONLY/IPV6_RECVTCLASS", e);
    return NULL;
  }
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons((uint16_t)port);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    e = errno;
    close(fd);
    char a[INET6_ADDRSTRLEN];
    char subj[INET6_ADDRSTRLEN + 16];
    inet_ntop(AF_INET6, &sa.sin6_addr, a, sizeof a);
    snprintf(subj, sizeof subj, "[%s]:%d", a, (int)port);
    throw_errno(env, "bind", subj, e);
    return NULL;
  }
  return make_int(env, fd);
}

// udp6Open(addr, port) -> fd. No SO_REUSEADDR, as for IPv4 (sockets.c says why).
napi_value js_udp6_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t port;
  if (!get_args(env, info, 2, argv, NULL, NULL) || !arg_int(env, argv[1], "port", 0, 65535, &port)) return NULL;
  return open6(env, SOCK_DGRAM, 0, argv[0], port);
}

// raw6Open(proto, addr) -> fd. Unlike IPv4, an IPv6 raw socket delivers the payload without the
// IPv6 header (RFC 3542 §3), so received ESP starts at byte 0 and the traffic class comes as a cmsg.
napi_value js_raw6_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t proto;
  if (!get_args(env, info, 2, argv, NULL, NULL) || !arg_int(env, argv[0], "proto", 1, 254, &proto)) return NULL;
  return open6(env, SOCK_RAW, (int)proto, argv[1], 0);
}

// sockName6(fd) -> { addr (text), port }
napi_value js_sock_name6(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv, NULL, NULL) || !arg_fd(env, argv[0], &fd)) return NULL;
  struct sockaddr_in6 sa;
  socklen_t sl = sizeof sa;
  memset(&sa, 0, sizeof sa);
  if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
    throw_errno(env, "getsockname", NULL, errno);
    return NULL;
  }
  if (sa.sin6_family != AF_INET6) {
    throw_errno(env, "getsockname", "not AF_INET6", EAFNOSUPPORT);
    return NULL;
  }
  char a[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &sa.sin6_addr, a, sizeof a);
  napi_value obj, v;
  NAPI_CALL(env, napi_create_object(env, &obj));
  NAPI_CALL(env, napi_create_string_utf8(env, a, NAPI_AUTO_LENGTH, &v));
  NAPI_CALL(env, napi_set_named_property(env, obj, "addr", v));
  NAPI_CALL(env, napi_create_uint32(env, ntohs(sa.sin6_port), &v));
  NAPI_CALL(env, napi_set_named_property(env, obj, "port", v));
  return obj;
}

// sendBatch6(fd, bufs, addrs: Uint8Array(16 * count), ports: Uint16Array, count, status?,
//            tclass?: Uint8Array) -> accepted. batch.c's sendBatch sends for both families
// (a Uint8Array of addresses means IPv6); this name checks that the caller meant IPv6 and
// hands over, so there is one sendmmsg loop to keep right.
napi_value js_send_batch6(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!get_args(env, info, 7, argv, NULL, NULL)) return NULL;
  bool is = false;
  napi_typedarray_type at;
  size_t n;
  void *d;
  napi_value ab;
  size_t off;
  if (napi_is_typedarray(env, argv[2], &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, argv[2], &at, &n, &d, &ab, &off) != napi_ok || at != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "addrs must be a Uint8Array (16 bytes each), ports a Uint16Array");
    return NULL;
  }
  return js_send_batch(env, info);
}
