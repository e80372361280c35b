// Batched writes: write() per packet to a TUN, sendmmsg() with per-datagram address and TOS to
// a socket. Both count what the kernel refused instead of throwing.

#include "addon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

// sendmmsg slice: bounds the per-call stack arrays below.
#define SEND_CHUNK 256

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
napi_value js_write_batch(napi_env env, napi_callback_info info) {
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

// One IP_TOS / IPV6_TCLASS control message, aligned as the kernel's CMSG_NXTHDR walk expects.
typedef union {
  char buf[CMSG_SPACE(sizeof(int))];
  struct cmsghdr align;
} tos_cmsg_t;

// sendBatch(fd, bufs, addrs, ports: Uint16/Int32/Uint32Array, count, status?, tos?: Uint8Array)
//   -> accepted. One routine for both families, told apart by `addrs`: a Uint32Array of
// host-order IPv4 addresses, or a Uint8Array of 16 network-order bytes per datagram for an
// IPv6 socket (sock6.c), whose `tos` is then the traffic class (IPV6_TCLASS).
napi_value js_send_batch(napi_env env, napi_callback_info info) {
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
  if (at != napi_uint32_array && at != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "addrs must be a Uint32Array (IPv4) or a Uint8Array (IPv6, 16 bytes each)");
    return NULL;
  }
  bool v6 = at == napi_uint8_array;
  // The same call again for its length check: 16 bytes per IPv6 datagram.
  if (v6 && !typed_array_arg(env, argv[2], "addrs", (size_t)count * 16, &at, &addrs_v)) return NULL;
  if (pt != napi_uint16_array && pt != napi_int32_array && pt != napi_uint32_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "ports must be a Uint16Array, Int32Array or Uint32Array");
    return NULL;
  }
  int32_t *status = status_arg(env, argv[5], &ok);
  if (!ok) return NULL;
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
  union {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
  } sas[SEND_CHUNK];
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
      memset(&msgs[j], 0, sizeof msgs[j]);
      if (v6) {
        sas[j].v6.sin6_family = AF_INET6;
        memcpy(&sas[j].v6.sin6_addr, (const uint8_t *)addrs_v + (size_t)i * 16, 16);
        sas[j].v6.sin6_port = htons((uint16_t)port);
        msgs[j].msg_hdr.msg_namelen = sizeof sas[j].v6;
      } else {
        sas[j].v4.sin_family = AF_INET;
        sas[j].v4.sin_addr.s_addr = htonl(((const uint32_t *)addrs_v)[i]);
        sas[j].v4.sin_port = htons((uint16_t)port);
        msgs[j].msg_hdr.msg_namelen = sizeof sas[j].v4;
      }
      iov[j].iov_base = data;
      iov[j].iov_len = len;
      msgs[j].msg_hdr.msg_name = &sas[j];
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
      if (tos != NULL && tos[i] != 0) {
        struct cmsghdr *c = &cms[j].align;
        int v = tos[i];
        c->cmsg_level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
        c->cmsg_type = v6 ? IPV6_TCLASS : IP_TOS;
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
