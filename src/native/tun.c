// TUN devices: open one (IFF_TUN | IFF_NO_PI, non-blocking, with offloads where the kernel has
// them) and switch its carrier.

#include "addon.h"
#include "vnet.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef TUNSETCARRIER
#define TUNSETCARRIER _IOW('T', 226, int)
#endif

// Opens /dev/net/tun as `name`; returns the fd or -errno (the errno of the failing step in *step).
static int open_tun(const char *name, bool vnet, char out_name[IFNAMSIZ], const char **step) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *step = "open";
    return -errno;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, strlen(name) + 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    *step = "TUNSETIFF";
    return -e;
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  memcpy(out_name, ifr.ifr_name, IFNAMSIZ);
  return fd;
}

// The offloads to ask for, best first: checksum and TSO for IPv4, with USO (kernel 6.2+, and
// only both families together) where the kernel has it. IPv6 GSO is never asked for: a vlink
// carries IPv4. The kernel refuses (EINVAL) any flag it does not know, which is the detection.
static const unsigned OFFLOAD_CHOICES[] = {
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_USO4 | TUN_F_USO6,
    TUN_F_CSUM | TUN_F_TSO4,
};

// tunOpen(name, offload?: boolean) -> { fd, name, ifindex, vnet, offloads }
// With offload, the device is opened with IFF_VNET_HDR and the best accepted TUNSETOFFLOAD set;
// `vnet` says whether that worked (every packet then carries a virtio_net_hdr both ways) and
// `offloads` holds the TUN_F_* flags in force. Where none is accepted the device is reopened
// without IFF_VNET_HDR, which cannot be cleared once set.
napi_value js_tun_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[IFNAMSIZ], got[IFNAMSIZ];
  bool want = false;
  size_t argc = 0;
  if (!get_args(env, info, 2, argv, &argc, NULL) || !arg_ifname(env, argv[0], name)) return NULL;
  if (argc > 1) {
    napi_valuetype t;
    if (napi_typeof(env, argv[1], &t) == napi_ok && t != napi_undefined && !arg_bool(env, argv[1], "offload", &want))
      return NULL;
  }
  const char *step = "open";
  unsigned offloads = 0;
  int fd = -1;
  if (want) {
    fd = open_tun(name, true, got, &step);
    if (fd < 0) {
      throw_errno(env, step, name, -fd);
      return NULL;
    }
    for (size_t i = 0; i < sizeof OFFLOAD_CHOICES / sizeof OFFLOAD_CHOICES[0] && offloads == 0; i++) {
      if (ioctl(fd, TUNSETOFFLOAD, OFFLOAD_CHOICES[i]) == 0) offloads = OFFLOAD_CHOICES[i];
    }
    if (offloads == 0) {
      close(fd);
      fd = -1;
    }
  }
  if (fd < 0) {
    fd = open_tun(name, false, got, &step);
    if (fd < 0) {
      throw_errno(env, step, name, -fd);
      return NULL;
    }
  }
  unsigned idx = if_nametoindex(got);
  if (idx == 0) {
    int e = errno;
    close(fd);
    throw_errno(env, "if_nametoindex", got, e);
    return NULL;
  }
  napi_value obj, v;
  if (napi_create_object(env, &obj) != napi_ok || napi_create_int32(env, fd, &v) != napi_ok ||
      napi_set_named_property(env, obj, "fd", v) != napi_ok ||
      napi_create_string_utf8(env, got, NAPI_AUTO_LENGTH, &v) != napi_ok ||
      napi_set_named_property(env, obj, "name", v) != napi_ok ||
      napi_create_uint32(env, idx, &v) != napi_ok || napi_set_named_property(env, obj, "ifindex", v) != napi_ok ||
      napi_get_boolean(env, offloads != 0, &v) != napi_ok || napi_set_named_property(env, obj, "vnet", v) != napi_ok ||
      napi_create_uint32(env, offloads, &v) != napi_ok || napi_set_named_property(env, obj, "offloads", v) != napi_ok) {
    close(fd);
    return NULL;
  }
  return obj;
}

// tunSetCarrier(fd, on)
napi_value js_tun_set_carrier(napi_env env, napi_callback_info info) {
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
