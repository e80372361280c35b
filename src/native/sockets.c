// UDP and raw IPv4 sockets for the underlay: open, name, close.

#include "addon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SOCK_BUF_BYTES (1 << 20)

// 1 MiB absorbs bursts between event-loop turns; measured: 256 KiB..4 MiB gave the same
// throughput and RTT under load here, the queue that matters is the TUN's (see netsys.ts).
// The FORCE variants need CAP_NET_ADMIN
// and bypass rmem_max; without it the plain option still gets as close as the sysctl allows.
static void grow_buffers(int fd) {
  int sz = SOCK_BUF_BYTES;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
}

// RFC 2003 §3.1: the outer DF bit MUST be set when the inner packet has DF and MAY be set
// otherwise, so it is always set. IP_PMTUDISC_PROBE sets DF but ignores learned path MTUs: a
// single ICMP "frag needed" from some underlay hop cannot turn later sends into EMSGSIZE.
// Outer packets are sized to underlay.mtu by the data plane (the vlink MTU is derived from
// it), so the operator states the underlay path MTU once, in the config, and it holds.
static void outer_df(int fd) {
  int v = IP_PMTUDISC_PROBE;
  (void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
}

// udpOpen(addr, port) -> fd
napi_value js_udp_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t addr;
  int64_t port;
  if (!get_args(env, info, 2, argv, NULL, NULL) || !arg_ipv4(env, argv[0], &addr) ||
      !arg_int(env, argv[1], "port", 0, 65535, &port))
    return NULL;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, "socket", "udp", errno);
    return NULL;
  }
  // No SO_REUSEADDR: UDP has no TIME_WAIT to skip, and on Linux the option only lets a second
  // process bind the same address:port and silently take over its unicast traffic. A second
  // router on port 4500 must fail with EADDRINUSE instead.
  grow_buffers(fd);
  outer_df(fd);
  // RFC 6040 decapsulation needs the outer ECN field, which a UDP socket otherwise discards.
  // Raw sockets need no such option: their datagrams still carry the IPv4 header.
  int on = 1;
  if (setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof on) < 0) {
    int e = errno;
    close(fd);
    throw_errno(env, "setsockopt", "IP_RECVTOS", e);
    return NULL;
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = addr;
  sa.sin_port = htons((uint16_t)port);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    char subj[48];
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, a, sizeof a);
    snprintf(subj, sizeof subj, "%s:%d", a, (int)port);
    throw_errno(env, "bind", subj, e);
    return NULL;
  }
  return make_int(env, fd);
}

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

// udpOffload(fd, gro: boolean) -> { gso, gro }: whether the kernel does UDP GSO on this socket
// (it knows the UDP_SEGMENT option), and whether UDP GRO is now on (asked for and accepted).
napi_value js_udp_offload(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  bool want_gro;
  if (!get_args(env, info, 2, argv, NULL, NULL) || !arg_fd(env, argv[0], &fd) ||
      !arg_bool(env, argv[1], "gro", &want_gro))
    return NULL;
  int v = 0;
  socklen_t vl = sizeof v;
  bool gso = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &vl) == 0;
  bool gro = false;
  if (want_gro) {
    int on = 1;
    gro = setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
  }
  napi_value obj, b;
  NAPI_CALL(env, napi_create_object(env, &obj));
  NAPI_CALL(env, napi_get_boolean(env, gso, &b));
  NAPI_CALL(env, napi_set_named_property(env, obj, "gso", b));
  NAPI_CALL(env, napi_get_boolean(env, gro, &b));
  NAPI_CALL(env, napi_set_named_property(env, obj, "gro", b));
  return obj;
}

// rawOpen(proto, addr) -> fd. Receives carry the IPv4 header; sends do not (no IP_HDRINCL).
napi_value js_raw_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t proto;
  uint32_t addr;
  if (!get_args(env, info, 2, argv, NULL, NULL) || !arg_int(env, argv[0], "proto", 1, 254, &proto) ||
      !arg_ipv4(env, argv[1], &addr))
    return NULL;
  int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, (int)proto);
  if (fd < 0) {
    throw_errno(env, "socket", "raw", errno);
    return NULL;
  }
  grow_buffers(fd);
  outer_df(fd);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = addr;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, a, sizeof a);
    throw_errno(env, "bind", a, e);
    return NULL;
  }
  return make_int(env, fd);
}

// sockName(fd) -> { addr (host-order uint32), port }
napi_value js_sock_name(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv, NULL, NULL) || !arg_fd(env, argv[0], &fd)) return NULL;
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  memset(&sa, 0, sizeof sa);
  if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
    throw_errno(env, "getsockname", NULL, errno);
    return NULL;
  }
  if (sa.sin_family != AF_INET) {
    throw_errno(env, "getsockname", "not AF_INET", EAFNOSUPPORT);
    return NULL;
  }
  napi_value obj, v;
  NAPI_CALL(env, napi_create_object(env, &obj));
  NAPI_CALL(env, napi_create_uint32(env, ntohl(sa.sin_addr.s_addr), &v));
  NAPI_CALL(env, napi_set_named_property(env, obj, "addr", v));
  NAPI_CALL(env, napi_create_uint32(env, ntohs(sa.sin_port), &v));
  NAPI_CALL(env, napi_set_named_property(env, obj, "port", v));
  return obj;
}

// closeFd(fd). Refuses stdio so a stray 0 from a half-initialized wrapper cannot close stdin.
napi_value js_close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv, NULL, NULL) || !arg_fd(env, argv[0], &fd)) return NULL;
  if (fd <= 2) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "refusing to close stdio descriptor");
    return NULL;
  }
  // Linux releases the descriptor even when close() reports EINTR, so never retry.
  if (close(fd) < 0 && errno != EINTR) {
    throw_errno(env, "close", NULL, errno);
    return NULL;
  }
  return make_undefined(env);
}
