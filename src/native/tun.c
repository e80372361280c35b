// TUN devices: open one (IFF_TUN | IFF_NO_PI, non-blocking) and switch its carrier.

#include "addon.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef TUNSETCARRIER
#define TUNSETCARRIER _IOW('T', 226, int)
#endif

// tunOpen(name) -> { fd, name, ifindex }
napi_value js_tun_open(napi_env env, napi_callback_info info) {
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
