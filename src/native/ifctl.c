// Interface MTU and IFF_UP by ioctl. The daemon configures its links over rtnetlink
// (src/io/netsys.ts): only the MTU read is on the daemon surface, as `iiptran doctor`'s one
// real system call; setting MTU and IFF_UP is exported only under `testOnly`, so the TUN tests
// can drive a device without a netlink client. src/native/index.ts documents the split. The
// `testOnly` object also carries tun_write.c's capture mode (coalescing tested without a TUN).

#include "addon.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int ctl_socket(void) { return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }

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
napi_value js_if_get_mtu(napi_env env, napi_callback_info info) {
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

napi_status test_only_exports(napi_env env, napi_value *obj) {
  napi_property_descriptor fns[] = {
      FN("ifSetMtu", js_if_set_mtu),
      FN("ifSetUp", js_if_set_up),
      FN("tunWriteCapture", js_tun_write_capture),
  };
  napi_status st = napi_create_object(env, obj);
  if (st != napi_ok) return st;
  return napi_define_properties(env, *obj, sizeof fns / sizeof fns[0], fns);
}
