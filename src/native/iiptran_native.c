// iiptran native addon: TUN devices, UDP and raw IPv4 sockets, and batched packet I/O driven
// by the Node event loop itself (uv_poll), so a packet never costs a thread-pool hop.
//
// Conventions shared with src/native/index.ts:
//  - IPv4 addresses cross the boundary as uint32 in HOST byte order (10.0.0.1 == 0x0a000001),
//    so JS can take octets with shifts; ports are host order too.
//  - System call failures throw an Error with numeric `errno`, `code` ("EPERM") and `syscall`.
//    Argument mistakes throw TypeError/RangeError. Hot-path calls (writeBatch, sendBatch, the
//    Reader callback) never throw for kernel errors: they count, and report the last errno.

#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef TUNSETCARRIER
#define TUNSETCARRIER _IOW('T', 226, int)
#endif

// Caps keep a careless caller from asking for absurd allocations or stack arrays.
#define MAX_BATCH 1024
#define MIN_SLOT 256
#define MAX_SLOT (1 << 20)
#define MAX_READER_BYTES (64u << 20)
#define SEND_CHUNK 256
#define SOCK_BUF_BYTES (1 << 20)
// Batches per wakeup: enough to amortize the epoll round trip, few enough that one busy fd
// cannot starve timers and the other fds on the same loop.
#define MAX_BATCHES_PER_WAKEUP 4

// ---------------------------------------------------------------------------------------------
// Error helpers

static void throw_errno(napi_env env, const char *syscall, const char *subject, int err) {
  char msg[256];
  char ebuf[128];
  const char *estr = strerror_r(err, ebuf, sizeof ebuf);
  if (subject != NULL && subject[0] != '\0')
    snprintf(msg, sizeof msg, "%s %s: %s", syscall, subject, estr);
  else
    snprintf(msg, sizeof msg, "%s: %s", syscall, estr);
  const char *ename = strerrorname_np(err);
  napi_value jmsg, jcode, jerr, jnum, jsys;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg) != napi_ok) return;
  if (napi_create_string_utf8(env, ename ? ename : "EUNKNOWN", NAPI_AUTO_LENGTH, &jcode) != napi_ok) return;
  if (napi_create_error(env, jcode, jmsg, &jerr) != napi_ok) return;
  if (napi_create_int32(env, err, &jnum) == napi_ok) napi_set_named_property(env, jerr, "errno", jnum);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &jsys) == napi_ok)
    napi_set_named_property(env, jerr, "syscall", jsys);
  napi_throw(env, jerr);
}

// Any napi_* failure not caused by bad arguments: surface it instead of limping on.
#define NAPI_CALL(env, call)                                                        \
  do {                                                                              \
    if ((call) != napi_ok) {                                                        \
      bool pending_ = false;                                                        \
      napi_is_exception_pending((env), &pending_);                                  \
      if (!pending_) napi_throw_error((env), "ERR_NAPI", "internal Node-API failure"); \
      return NULL;                                                                  \
    }                                                                               \
  } while (0)

// ---------------------------------------------------------------------------------------------
// Argument helpers: each returns false after throwing.

static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, size_t *got,
                     napi_value *self) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, self, NULL) != napi_ok) {
    napi_throw_error(env, "ERR_NAPI", "cannot read arguments");
    return false;
  }
  if (got) *got = argc;
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  return true;
}

static bool arg_int(napi_env env, napi_value v, const char *what, int64_t lo, int64_t hi, int64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    char m[96];
    snprintf(m, sizeof m, "%s must be a number", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", m);
    return false;
  }
  double d;
  napi_get_value_double(env, v, &d);
  if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d) {
    char m[128];
    snprintf(m, sizeof m, "%s must be an integer in [%lld, %lld]", what, (long long)lo, (long long)hi);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", m);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

static bool arg_fd(napi_env env, napi_value v, int *fd) {
  int64_t x;
  if (!arg_int(env, v, "fd", 0, INT32_MAX, &x)) return false;
  *fd = (int)x;
  return true;
}

static bool arg_bool(napi_env env, napi_value v, const char *what, bool *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_boolean) {
    char m[96];
    snprintf(m, sizeof m, "%s must be a boolean", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", m);
    return false;
  }
  napi_get_value_bool(env, v, out);
  return true;
}

// Same rules as the kernel's dev_valid_name(), checked here so the error names the problem.
static bool arg_ifname(napi_env env, napi_value v, char out[IFNAMSIZ]) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "interface name must be a string");
    return false;
  }
  size_t len = 0;
  char buf[IFNAMSIZ + 1];
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  if (len == 0 || len >= IFNAMSIZ) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "interface name must be 1..15 bytes");
    return false;
  }
  napi_get_value_string_utf8(env, v, buf, sizeof buf, &len);
  if (strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0) goto bad;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)buf[i];
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) goto bad;
  }
  memcpy(out, buf, len + 1);
  return true;
bad:
  napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE",
                         "interface name may not be '.', '..', or contain '/', ':', whitespace or control bytes");
  return false;
}

// An IPv4 address as a dotted string or a host-order uint32; result in network order.
static bool arg_ipv4(napi_env env, napi_value v, uint32_t *net) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_string) {
    char buf[32];
    size_t len = 0;
    napi_get_value_string_utf8(env, v, buf, sizeof buf, &len);
    struct in_addr a;
    if (len >= sizeof buf - 1 || inet_pton(AF_INET, buf, &a) != 1) {
      napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "not a dotted IPv4 address");
      return false;
    }
    *net = a.s_addr;
    return true;
  }
  int64_t x;
  if (!arg_int(env, v, "IPv4 address", 0, UINT32_MAX, &x)) return false;
  *net = htonl((uint32_t)x);
  return true;
}

static bool arg_function(napi_env env, napi_value v, const char *what) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_function) {
    char m[96];
    snprintf(m, sizeof m, "%s must be a function", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", m);
    return false;
  }
  return true;
}

// Bytes of a Buffer / Uint8Array (any TypedArray or DataView is accepted as raw bytes).
static bool bytes_of(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type tt;
    size_t n;
    napi_value ab;
    size_t off;
    if (napi_get_typedarray_info(env, v, &tt, &n, data, &ab, &off) != napi_ok) return false;
    size_t esz = 1;
    switch (tt) {
      case napi_int16_array: case napi_uint16_array: esz = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: esz = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: esz = 8; break;
      default: esz = 1;
    }
    *len = n * esz;
    if (*len > 0 && *data == NULL) return false;  // detached
    return true;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    napi_value ab;
    size_t off;
    return napi_get_dataview_info(env, v, len, data, &ab, &off) == napi_ok;
  }
  return false;
}

// A TypedArray of the given kind with at least `need` elements.
static bool typed_array_arg(napi_env env, napi_value v, const char *what, size_t need,
                            napi_typedarray_type *type, void **data) {
  bool is = false;
  size_t n = 0;
  napi_value ab;
  size_t off;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, type, &n, data, &ab, &off) != napi_ok) {
    char m[96];
    snprintf(m, sizeof m, "%s must be a TypedArray", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", m);
    return false;
  }
  if (n < need || (need > 0 && *data == NULL)) {
    char m[96];
    snprintf(m, sizeof m, "%s is shorter than count", what);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", m);
    return false;
  }
  return true;
}

// Optional trailing Int32Array receiving the last errno of a batch call (0 when none).
static int32_t *status_arg(napi_env env, napi_value v, bool *ok) {
  napi_valuetype t;
  *ok = true;
  if (napi_typeof(env, v, &t) != napi_ok || t == napi_undefined || t == napi_null) return NULL;
  napi_typedarray_type tt;
  void *data;
  if (!typed_array_arg(env, v, "status", 1, &tt, &data)) {
    *ok = false;
    return NULL;
  }
  if (tt != napi_int32_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "status must be an Int32Array");
    *ok = false;
    return NULL;
  }
  return (int32_t *)data;
}

static napi_value make_int(napi_env env, int64_t v) {
  napi_value r;
  if (napi_create_int64(env, v, &r) != napi_ok) return NULL;
  return r;
}

static napi_value make_undefined(napi_env env) {
  napi_value r;
  napi_get_undefined(env, &r);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Interfaces

static int ctl_socket(void) { return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }

// tunOpen(name) -> { fd, name, ifindex }
static napi_value js_tun_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[IFNAMSIZ];
  if (!get_args(env, info, 1, argv, NULL, NULL) || !arg_ifname(env, argv[0], name)) return NULL;

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    throw_errno(env, "open", "/dev/net/tun", errno);
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, strlen(name) + 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    throw_errno(env, "TUNSETIFF", name, e);
    return NULL;
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  unsigned idx = if_nametoindex(ifr.ifr_name);
  if (idx == 0) {
    int e = errno;
    close(fd);
    throw_errno(env, "if_nametoindex", ifr.ifr_name, e);
    return NULL;
  }
  napi_value obj, v;
  if (napi_create_object(env, &obj) != napi_ok || napi_create_int32(env, fd, &v) != napi_ok ||
      napi_set_named_property(env, obj, "fd", v) != napi_ok ||
      napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &v) != napi_ok ||
      napi_set_named_property(env, obj, "name", v) != napi_ok ||
      napi_create_uint32(env, idx, &v) != napi_ok || napi_set_named_property(env, obj, "ifindex", v) != napi_ok) {
    close(fd);
    return NULL;
  }
  return obj;
}

// tunSetCarrier(fd, on)
static napi_value js_tun_set_carrier(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  bool on;
  if (!get_args(env, info, 2, argv, NULL, NULL) || !arg_fd(env, argv[0], &fd) ||
      !arg_bool(env, argv[1], "on", &on))
    return NULL;
  int arg = on ? 1 : 0;
  if (ioctl(fd, TUNSETCARRIER, &arg) < 0) {
    throw_errno(env, "TUNSETCARRIER", NULL, errno);
    return NULL;
  }
  return make_undefined(env);
}

// ifSetMtu(name, mtu)
static napi_value js_if_set_mtu(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[IFNAMSIZ];
  int64_t mtu;
  if (!get_args(env, info, 2, argv, NULL, NULL) || !arg_ifname(env, argv[0], name) ||
      !arg_int(env, argv[1], "mtu", 68, 65535, &mtu))
    return NULL;
  int s = ctl_socket();
  if (s < 0) {
    throw_errno(env, "socket", NULL, errno);
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strlen(name) + 1);
  ifr.ifr_mtu = (int)mtu;
  int rc = ioctl(s, SIOCSIFMTU, &ifr);
  int e = errno;
  close(s);
  if (rc < 0) {
    throw_errno(env, "SIOCSIFMTU", name, e);
    return NULL;
  }
  return make_undefined(env);
}

// ifGetMtu(name) -> number
static napi_value js_if_get_mtu(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[IFNAMSIZ];
  if (!get_args(env, info, 1, argv, NULL, NULL) || !arg_ifname(env, argv[0], name)) return NULL;
  int s = ctl_socket();
  if (s < 0) {
    throw_errno(env, "socket", NULL, errno);
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strlen(name) + 1);
  int rc = ioctl(s, SIOCGIFMTU, &ifr);
  int e = errno;
  close(s);
  if (rc < 0) {
    throw_errno(env, "SIOCGIFMTU", name, e);
    return NULL;
  }
  return make_int(env, ifr.ifr_mtu);
}

// ifSetUp(name, up)
static napi_value js_if_set_up(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[IFNAMSIZ];
  bool up;
  if (!get_args(env, info, 2, argv, NULL, NULL) || !arg_ifname(env, argv[0], name) ||
      !arg_bool(env, argv[1], "up", &up))
    return NULL;
  int s = ctl_socket();
  if (s < 0) {
    throw_errno(env, "socket", NULL, errno);
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strlen(name) + 1);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    int e = errno;
    close(s);
    throw_errno(env, "SIOCGIFFLAGS", name, e);
    return NULL;
  }
  short want = up ? (short)(ifr.ifr_flags | IFF_UP) : (short)(ifr.ifr_flags & ~IFF_UP);
  int rc = 0, e = 0;
  if (want != ifr.ifr_flags) {
    ifr.ifr_flags = want;
    rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    e = errno;
  }
  close(s);
  if (rc < 0) {
    throw_errno(env, "SIOCSIFFLAGS", name, e);
    return NULL;
  }
  return make_undefined(env);
}

// ---------------------------------------------------------------------------------------------
// Sockets

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
static napi_value js_udp_open(napi_env env, napi_callback_info info) {
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

// rawOpen(proto, addr) -> fd. Receives carry the IPv4 header; sends do not (no IP_HDRINCL).
static napi_value js_raw_open(napi_env env, napi_callback_info info) {
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
static napi_value js_sock_name(napi_env env, napi_callback_info info) {
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
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
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

// ---------------------------------------------------------------------------------------------
// Batched writes

// The batch calls take a JS array of Buffers: check it is one, then fetch element i's bytes.
static bool buffer_array_arg(napi_env env, napi_value v, uint32_t *len) {
  bool is_arr = false;
  if (napi_is_array(env, v, &is_arr) != napi_ok || !is_arr) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "buffers must be an array");
    return false;
  }
  return napi_get_array_length(env, v, len) == napi_ok;
}

static bool buffer_at(napi_env env, napi_value arr, uint32_t i, void **data, size_t *len) {
  napi_value el;
  if (napi_get_element(env, arr, i, &el) != napi_ok || !bytes_of(env, el, data, len)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "buffers must hold Buffers/Uint8Arrays");
    return false;
  }
  return true;
}

// writeBatch(fd, bufs, count, status?) -> written
static napi_value js_write_batch(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int fd;
  int64_t count;
  bool ok;
  if (!get_args(env, info, 4, argv, NULL, NULL) || !arg_fd(env, argv[0], &fd)) return NULL;
  uint32_t alen = 0;
  if (!buffer_array_arg(env, argv[1], &alen)) return NULL;
  if (!arg_int(env, argv[2], "count", 0, alen, &count)) return NULL;
  int32_t *status = status_arg(env, argv[3], &ok);
  if (!ok) return NULL;

  int64_t written = 0;
  int last_err = 0;
  for (uint32_t i = 0; i < (uint32_t)count; i++) {
    void *data;
    size_t len;
    if (!buffer_at(env, argv[1], i, &data, &len)) return NULL;
    ssize_t n;
    do n = write(fd, data, len);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      last_err = errno;
      // A full queue will still be full for the next packet; an error per packet (EIO on a
      // down link, EINVAL for a malformed packet) is not.
      if (last_err == EAGAIN || last_err == EBADF) break;
      continue;
    }
    written++;
  }
  if (status) status[0] = last_err;
  return make_int(env, written);
}

// One IP_TOS control message, aligned as the kernel's CMSG_NXTHDR walk expects.
typedef union {
  char buf[CMSG_SPACE(sizeof(int))];
  struct cmsghdr align;
} tos_cmsg_t;

// sendBatch(fd, bufs, addrs: Uint32Array(host order), ports: Uint16/Int32/Uint32Array, count,
//           status?, tos?: Uint8Array) -> accepted
static napi_value js_send_batch(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  int fd;
  int64_t count;
  bool ok;
  if (!get_args(env, info, 7, argv, NULL, NULL) || !arg_fd(env, argv[0], &fd)) return NULL;
  uint32_t alen = 0;
  if (!buffer_array_arg(env, argv[1], &alen)) return NULL;
  if (!arg_int(env, argv[4], "count", 0, alen, &count)) return NULL;
  napi_typedarray_type at, pt;
  void *addrs_v, *ports_v;
  if (!typed_array_arg(env, argv[2], "addrs", (size_t)count, &at, &addrs_v) ||
      !typed_array_arg(env, argv[3], "ports", (size_t)count, &pt, &ports_v))
    return NULL;
  if (at != napi_uint32_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "addrs must be a Uint32Array");
    return NULL;
  }
  if (pt != napi_uint16_array && pt != napi_int32_array && pt != napi_uint32_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "ports must be a Uint16Array, Int32Array or Uint32Array");
    return NULL;
  }
  int32_t *status = status_arg(env, argv[5], &ok);
  if (!ok) return NULL;
  const uint32_t *addrs = addrs_v;
  const uint8_t *tos = NULL;
  napi_valuetype tos_t;
  if (napi_typeof(env, argv[6], &tos_t) == napi_ok && tos_t != napi_undefined && tos_t != napi_null) {
    napi_typedarray_type tt;
    void *tos_v;
    if (!typed_array_arg(env, argv[6], "tos", (size_t)count, &tt, &tos_v)) return NULL;
    if (tt != napi_uint8_array) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "tos must be a Uint8Array");
      return NULL;
    }
    tos = tos_v;
  }

  struct mmsghdr msgs[SEND_CHUNK];
  struct iovec iov[SEND_CHUNK];
  struct sockaddr_in sas[SEND_CHUNK];
  // Per datagram, because the outer TOS copies each inner packet's DSCP and ECN (RFC 2983
  // uniform model, RFC 6040 §4.1 normal mode). Only a non-zero TOS gets a control message: 0
  // is what the socket sends anyway, so best-effort, Not-ECT traffic pays no cmsg parsing.
  tos_cmsg_t cms[SEND_CHUNK];
  int64_t accepted = 0;
  int last_err = 0;
  uint32_t total = (uint32_t)count;
  uint32_t base = 0;
  bool stop = false;

  while (base < total && !stop) {
    unsigned n = total - base < SEND_CHUNK ? total - base : SEND_CHUNK;
    for (unsigned j = 0; j < n; j++) {
      uint32_t i = base + j;
      void *data;
      size_t len;
      if (!buffer_at(env, argv[1], i, &data, &len)) return NULL;
      uint32_t port;
      if (pt == napi_uint16_array) port = ((const uint16_t *)ports_v)[i];
      else port = ((const uint32_t *)ports_v)[i];
      if (port > 65535) {
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "port out of range");
        return NULL;
      }
      memset(&sas[j], 0, sizeof sas[j]);
      sas[j].sin_family = AF_INET;
      sas[j].sin_addr.s_addr = htonl(addrs[i]);
      sas[j].sin_port = htons((uint16_t)port);
      iov[j].iov_base = data;
      iov[j].iov_len = len;
      memset(&msgs[j], 0, sizeof msgs[j]);
      msgs[j].msg_hdr.msg_name = &sas[j];
      msgs[j].msg_hdr.msg_namelen = sizeof sas[j];
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
      if (tos != NULL && tos[i] != 0) {
        struct cmsghdr *c = &cms[j].align;
        int v = tos[i];
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_TOS;
        c->cmsg_len = CMSG_LEN(sizeof v);
        memcpy(CMSG_DATA(c), &v, sizeof v);
        msgs[j].msg_hdr.msg_control = cms[j].buf;
        msgs[j].msg_hdr.msg_controllen = sizeof cms[j].buf;
      }
    }
    unsigned done = 0;
    while (done < n) {
      int r = sendmmsg(fd, msgs + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (r > 0) {
        accepted += r;
        done += (unsigned)r;
        continue;
      }
      int e = errno;
      if (r < 0 && e == EINTR) continue;
      if (r == 0) e = EAGAIN;
      last_err = e;
      // sendmmsg fails only on the first message of the slice; skip just that one unless the
      // socket itself is the problem (full, or not a socket at all).
      if (e == EAGAIN || e == EWOULDBLOCK || e == EBADF || e == ENOTSOCK) {
        stop = true;
        break;
      }
      done++;
    }
    base += n;
  }
  if (status) status[0] = last_err;
  return make_int(env, accepted);
}

// ---------------------------------------------------------------------------------------------
// Reader: uv_poll on the Node loop, batched read()/recvmmsg() into one preallocated buffer.

enum reader_mode { MODE_READ = 0, MODE_RECVMMSG = 1 };

// Room for IP_TOS plus a few more cmsgs, should some later option ask for them: a truncated
// control buffer (MSG_CTRUNC) would cost us the TOS, never the datagram.
#define CTRL_SLOT 64

typedef struct reader {
  napi_env env;
  uv_loop_t *loop;
  uv_poll_t poll;
  int fd;
  enum reader_mode mode;
  uint32_t slot;
  uint32_t batch;
  uint8_t *data;      // owned by the JS ArrayBuffer `data_ref` refers to
  int32_t *lens;      // ditto, `lens_ref`
  uint32_t *addrs;    // recvmmsg only
  uint16_t *ports;    // recvmmsg only
  int16_t *tos;       // recvmmsg only: outer TOS byte, -1 when no IP_TOS cmsg came with it
  struct mmsghdr *msgs;
  struct iovec *iov;
  struct sockaddr_in *sas;
  uint8_t *ctrl;      // recvmmsg only: CTRL_SLOT bytes of control data per slot
  napi_ref self_ref;  // strong while polling so a forgotten reader cannot be freed under libuv
  napi_ref cb_ref;
  napi_ref data_ref, lens_ref, addrs_ref, ports_ref, tos_ref;
  napi_async_context actx;
  bool poll_inited;
  bool closing;       // uv_close requested (or never started)
  bool handle_closed; // uv close callback has run
  bool finalized;     // JS object collected; whoever finishes last frees
  bool in_callback;
  bool actx_destroy_pending;
  bool hook_added;
  struct reader *next; // registry of polled fds
} reader_t;

// libuv malfunctions when two poll handles watch one fd on one loop, so refuse it up front.
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static reader_t *registry = NULL;

static bool registry_add(reader_t *r) {
  pthread_mutex_lock(&registry_mu);
  for (reader_t *p = registry; p; p = p->next) {
    if (p->fd == r->fd && p->loop == r->loop) {
      pthread_mutex_unlock(&registry_mu);
      return false;
    }
  }
  r->next = registry;
  registry = r;
  pthread_mutex_unlock(&registry_mu);
  return true;
}

static void registry_remove(reader_t *r) {
  pthread_mutex_lock(&registry_mu);
  for (reader_t **pp = &registry; *pp; pp = &(*pp)->next) {
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  }
  r->next = NULL;
  pthread_mutex_unlock(&registry_mu);
}

static void reader_free(reader_t *r) {
  free(r->msgs);
  free(r->iov);
  free(r->sas);
  free(r->ctrl);
  free(r);
}

static void reader_on_close(uv_handle_t *h) {
  reader_t *r = h->data;
  r->handle_closed = true;
  if (r->finalized) reader_free(r);
}

// Safe from any context on the loop thread: touches no JS.
static void reader_stop(reader_t *r) {
  if (r->closing) return;
  r->closing = true;
  registry_remove(r);
  if (r->poll_inited) {
    uv_poll_stop(&r->poll);
    uv_close((uv_handle_t *)&r->poll, reader_on_close);
  } else {
    r->handle_closed = true;
  }
}

static void reader_env_cleanup(void *arg) {
  reader_t *r = arg;
  r->hook_added = false;
  reader_stop(r);
}

static void delete_ref(napi_env env, napi_ref *ref) {
  if (*ref) {
    napi_delete_reference(env, *ref);
    *ref = NULL;
  }
}

// Shared by close() and the finalizer: stop polling and drop every reference the reader
// holds into JS (callback and the views), so neither path can leave one behind.
static void reader_release_js(napi_env env, reader_t *r) {
  if (r->hook_added) {
    napi_remove_env_cleanup_hook(env, reader_env_cleanup, r);
    r->hook_added = false;
  }
  reader_stop(r);
  delete_ref(env, &r->cb_ref);
  delete_ref(env, &r->data_ref);
  delete_ref(env, &r->lens_ref);
  delete_ref(env, &r->addrs_ref);
  delete_ref(env, &r->ports_ref);
  delete_ref(env, &r->tos_ref);
}

static void reader_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  reader_t *r = data;
  reader_release_js(env, r);
  delete_ref(env, &r->self_ref);
  r->finalized = true;
  if (r->handle_closed) reader_free(r);
}

// Returns packets read (>0), 0 when drained, or -errno.
static int reader_read_batch(reader_t *r) {
  uint32_t n = 0;
  while (n < r->batch) {
    ssize_t got = read(r->fd, r->data + (size_t)n * r->slot, r->slot);
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
    if (r->msgs[i].msg_hdr.msg_namelen >= sizeof(struct sockaddr_in) && r->sas[i].sin_family == AF_INET) {
      r->addrs[i] = ntohl(r->sas[i].sin_addr.s_addr);
      r->ports[i] = ntohs(r->sas[i].sin_port);
    } else {
      r->addrs[i] = 0;
      r->ports[i] = 0;
    }
    int16_t t = -1;
    struct msghdr *mh = &r->msgs[i].msg_hdr;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
      // Linux delivers IP_TOS as one byte (ip_cmsg_recv_tos); accept an int as well.
      if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_TOS) continue;
      if (c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        int v;
        memcpy(&v, CMSG_DATA(c), sizeof v);
        t = (int16_t)(v & 0xff);
      } else if (c->cmsg_len >= CMSG_LEN(1)) {
        t = *(const uint8_t *)CMSG_DATA(c);
      }
      break;
    }
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

static void reader_on_poll(uv_poll_t *h, int status, int events) {
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

  for (int b = 0; b < MAX_BATCHES_PER_WAKEUP && !r->closing; b++) {
    int n = r->mode == MODE_READ ? reader_read_batch(r) : reader_recv_batch(r);
    if (n == 0) break;
    if (!reader_deliver(r, n)) break;
    if (n < 0 || (uint32_t)n < r->batch) break;
  }
  napi_close_handle_scope(r->env, scope);
}

static reader_t *unwrap_reader(napi_env env, napi_callback_info info, napi_value *self) {
  napi_value this_arg;
  size_t argc = 0;
  if (napi_get_cb_info(env, info, &argc, NULL, &this_arg, NULL) != napi_ok) return NULL;
  void *p = NULL;
  if (napi_unwrap(env, this_arg, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "not a Reader");
    return NULL;
  }
  if (self) *self = this_arg;
  return p;
}

static bool make_typed(napi_env env, size_t bytes, napi_typedarray_type tt, size_t elems, void **data,
                       napi_value *arr, napi_ref *ref) {
  napi_value ab;
  if (napi_create_arraybuffer(env, bytes, data, &ab) != napi_ok) return false;
  if (tt == (napi_typedarray_type)-1) {
    *arr = ab;
  } else if (napi_create_typedarray(env, tt, elems, ab, 0, arr) != napi_ok) {
    return false;
  }
  return napi_create_reference(env, ab, 1, ref) == napi_ok;
}

// new Reader(fd, mode: 'read'|'recvmmsg', slotSize, batchSize, cb)
static napi_value js_reader_new(napi_env env, napi_callback_info info) {
  napi_value argv[5], self, target;
  if (!get_args(env, info, 5, argv, NULL, &self)) return NULL;
  if (napi_get_new_target(env, info, &target) != napi_ok || target == NULL) {
    napi_throw_type_error(env, "ERR_CONSTRUCT_CALL_REQUIRED", "Reader must be called with new");
    return NULL;
  }
  int fd;
  int64_t slot, batch;
  char mode_s[16];
  size_t mlen = 0;
  napi_valuetype t;
  if (!arg_fd(env, argv[0], &fd)) return NULL;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "mode must be 'read' or 'recvmmsg'");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[1], mode_s, sizeof mode_s, &mlen);
  enum reader_mode mode;
  if (strcmp(mode_s, "read") == 0) mode = MODE_READ;
  else if (strcmp(mode_s, "recvmmsg") == 0) mode = MODE_RECVMMSG;
  else {
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "mode must be 'read' or 'recvmmsg'");
    return NULL;
  }
  if (!arg_int(env, argv[2], "slotSize", MIN_SLOT, MAX_SLOT, &slot) ||
      !arg_int(env, argv[3], "batchSize", 1, MAX_BATCH, &batch) || !arg_function(env, argv[4], "callback"))
    return NULL;
  if ((uint64_t)slot * (uint64_t)batch > MAX_READER_BYTES) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "slotSize * batchSize exceeds 64 MiB");
    return NULL;
  }

  reader_t *r = calloc(1, sizeof *r);
  if (r == NULL) {
    throw_errno(env, "calloc", "Reader", ENOMEM);
    return NULL;
  }
  r->env = env;
  r->fd = fd;
  r->mode = mode;
  r->slot = (uint32_t)slot;
  r->batch = (uint32_t)batch;
  r->closing = true;  // until the poll handle exists, there is nothing for libuv to close
  r->handle_closed = true;

  napi_value data_ab, lens_arr, addrs_arr = NULL, ports_arr = NULL, tos_arr = NULL, name;
  void *p;
  if (!make_typed(env, (size_t)slot * (size_t)batch, (napi_typedarray_type)-1, 0, &p, &data_ab, &r->data_ref))
    goto fail_js;
  r->data = p;
  if (!make_typed(env, (size_t)batch * 4, napi_int32_array, (size_t)batch, &p, &lens_arr, &r->lens_ref))
    goto fail_js;
  r->lens = p;
  if (mode == MODE_RECVMMSG) {
    if (!make_typed(env, (size_t)batch * 4, napi_uint32_array, (size_t)batch, &p, &addrs_arr, &r->addrs_ref))
      goto fail_js;
    r->addrs = p;
    if (!make_typed(env, (size_t)batch * 2, napi_uint16_array, (size_t)batch, &p, &ports_arr, &r->ports_ref))
      goto fail_js;
    r->ports = p;
    if (!make_typed(env, (size_t)batch * 2, napi_int16_array, (size_t)batch, &p, &tos_arr, &r->tos_ref))
      goto fail_js;
    r->tos = p;
    r->msgs = calloc((size_t)batch, sizeof *r->msgs);
    r->iov = calloc((size_t)batch, sizeof *r->iov);
    r->sas = calloc((size_t)batch, sizeof *r->sas);
    r->ctrl = calloc((size_t)batch, CTRL_SLOT);
    if (!r->msgs || !r->iov || !r->sas || !r->ctrl) {
      throw_errno(env, "calloc", "Reader", ENOMEM);
      goto fail_js;
    }
    for (uint32_t i = 0; i < r->batch; i++) {
      r->iov[i].iov_base = r->data + (size_t)i * r->slot;
      r->iov[i].iov_len = r->slot;
      r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
      r->msgs[i].msg_hdr.msg_iovlen = 1;
      r->msgs[i].msg_hdr.msg_name = &r->sas[i];
      r->msgs[i].msg_hdr.msg_namelen = sizeof r->sas[i];
      r->msgs[i].msg_hdr.msg_control = r->ctrl + (size_t)i * CTRL_SLOT;
      r->msgs[i].msg_hdr.msg_controllen = CTRL_SLOT;
    }
  }
  if (napi_create_reference(env, argv[4], 1, &r->cb_ref) != napi_ok) goto fail_js;
  if (napi_set_named_property(env, self, "data", data_ab) != napi_ok ||
      napi_set_named_property(env, self, "lengths", lens_arr) != napi_ok)
    goto fail_js;
  if (mode == MODE_RECVMMSG) {
    if (napi_set_named_property(env, self, "addrs", addrs_arr) != napi_ok ||
        napi_set_named_property(env, self, "ports", ports_arr) != napi_ok ||
        napi_set_named_property(env, self, "tos", tos_arr) != napi_ok)
      goto fail_js;
  } else {
    napi_value nul;
    napi_get_null(env, &nul);
    napi_set_named_property(env, self, "addrs", nul);
    napi_set_named_property(env, self, "ports", nul);
    napi_set_named_property(env, self, "tos", nul);
  }
  napi_value v;
  if (napi_create_uint32(env, r->slot, &v) != napi_ok || napi_set_named_property(env, self, "slotSize", v) != napi_ok ||
      napi_create_uint32(env, r->batch, &v) != napi_ok || napi_set_named_property(env, self, "batchSize", v) != napi_ok ||
      napi_create_int32(env, fd, &v) != napi_ok || napi_set_named_property(env, self, "fd", v) != napi_ok)
    goto fail_js;
  if (napi_create_string_utf8(env, "iiptran.Reader", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &r->actx) != napi_ok)
    goto fail_js;
  if (napi_get_uv_event_loop(env, &r->loop) != napi_ok) goto fail_js;
  if (napi_wrap(env, self, r, reader_finalize, NULL, NULL) != napi_ok) goto fail_js;
  // From here on the finalizer owns r; failures leave it closed and unreferenced.
  if (!registry_add(r)) {
    throw_errno(env, "Reader", "fd already has a reader", EBUSY);
    return NULL;
  }
  int rc = uv_poll_init(r->loop, &r->poll, fd);
  if (rc != 0) {
    registry_remove(r);
    throw_errno(env, "uv_poll_init", NULL, -rc);
    return NULL;
  }
  r->poll.data = r;
  r->poll_inited = true;
  r->closing = false;
  r->handle_closed = false;
  if (napi_create_reference(env, self, 1, &r->self_ref) != napi_ok) {
    reader_stop(r);
    napi_throw_error(env, "ERR_NAPI", "Reader construction failed");
    return NULL;
  }
  rc = uv_poll_start(&r->poll, UV_READABLE, reader_on_poll);
  if (rc != 0) {
    reader_stop(r);
    uint32_t cnt;
    napi_reference_unref(env, r->self_ref, &cnt);
    throw_errno(env, "uv_poll_start", NULL, -rc);
    return NULL;
  }
  if (napi_add_env_cleanup_hook(env, reader_env_cleanup, r) == napi_ok) r->hook_added = true;
  return self;

fail_js:
  if (r->actx) napi_async_destroy(env, r->actx);
  delete_ref(env, &r->cb_ref);
  delete_ref(env, &r->data_ref);
  delete_ref(env, &r->lens_ref);
  delete_ref(env, &r->addrs_ref);
  delete_ref(env, &r->ports_ref);
  delete_ref(env, &r->tos_ref);
  reader_free(r);
  {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, "ERR_NAPI", "Reader construction failed");
  }
  return NULL;
}

// reader.close(): idempotent; the loop is released once libuv runs the close callback.
static napi_value js_reader_close(napi_env env, napi_callback_info info) {
  reader_t *r = unwrap_reader(env, info, NULL);
  if (r == NULL) return NULL;
  reader_release_js(env, r);
  if (r->actx) {
    if (r->in_callback) r->actx_destroy_pending = true;
    else {
      napi_async_destroy(env, r->actx);
      r->actx = NULL;
    }
  }
  if (r->self_ref) {
    uint32_t rc = 0;
    // Weak from now on: the wrapper's finalizer frees r once both GC and libuv are done.
    napi_reference_unref(env, r->self_ref, &rc);
  }
  return make_undefined(env);
}

static napi_value js_reader_set_ref(napi_env env, napi_callback_info info, bool ref) {
  reader_t *r = unwrap_reader(env, info, NULL);
  if (r == NULL) return NULL;
  if (!r->closing && r->poll_inited) {
    if (ref) uv_ref((uv_handle_t *)&r->poll);
    else uv_unref((uv_handle_t *)&r->poll);
  }
  return make_undefined(env);
}

static napi_value js_reader_ref(napi_env env, napi_callback_info info) { return js_reader_set_ref(env, info, true); }
static napi_value js_reader_unref(napi_env env, napi_callback_info info) { return js_reader_set_ref(env, info, false); }

static napi_value js_reader_active(napi_env env, napi_callback_info info) {
  reader_t *r = unwrap_reader(env, info, NULL);
  if (r == NULL) return NULL;
  napi_value v;
  NAPI_CALL(env, napi_get_boolean(env, !r->closing && uv_is_active((uv_handle_t *)&r->poll), &v));
  return v;
}

// ---------------------------------------------------------------------------------------------

#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      FN("tunOpen", js_tun_open),       FN("tunSetCarrier", js_tun_set_carrier),
      FN("ifSetMtu", js_if_set_mtu),    FN("ifGetMtu", js_if_get_mtu),
      FN("ifSetUp", js_if_set_up),      FN("udpOpen", js_udp_open),
      FN("rawOpen", js_raw_open),       FN("sockName", js_sock_name),
      FN("closeFd", js_close_fd),       FN("writeBatch", js_write_batch),
      FN("sendBatch", js_send_batch),
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns));

  napi_property_descriptor methods[] = {
      FN("close", js_reader_close),
      FN("ref", js_reader_ref),
      FN("unref", js_reader_unref),
      FN("isActive", js_reader_active),
  };
  napi_value cls;
  NAPI_CALL(env, napi_define_class(env, "Reader", NAPI_AUTO_LENGTH, js_reader_new, NULL,
                                   sizeof methods / sizeof methods[0], methods, &cls));
  NAPI_CALL(env, napi_set_named_property(env, exports, "Reader", cls));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
