// N-API helpers: errno errors, argument checks and small value constructors.

#include "napi_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

void throw_errno(napi_env env, const char *syscall, const char *subject, int err) {
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

bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, size_t *got,
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

bool arg_int(napi_env env, napi_value v, const char *what, int64_t lo, int64_t hi, int64_t *out) {
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

bool arg_fd(napi_env env, napi_value v, int *fd) {
  int64_t x;
  if (!arg_int(env, v, "fd", 0, INT32_MAX, &x)) return false;
  *fd = (int)x;
  return true;
}

bool arg_bool(napi_env env, napi_value v, const char *what, bool *out) {
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

bool arg_ifname(napi_env env, napi_value v, char out[IFNAMSIZ]) {
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

bool arg_ipv4(napi_env env, napi_value v, uint32_t *net) {
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

bool arg_function(napi_env env, napi_value v, const char *what) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_function) {
    char m[96];
    snprintf(m, sizeof m, "%s must be a function", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", m);
    return false;
  }
  return true;
}

bool bytes_of(napi_env env, napi_value v, void **data, size_t *len) {
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

bool typed_array_arg(napi_env env, napi_value v, const char *what, size_t need,
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

bool typed_of(napi_env env, napi_value v, const char *what, napi_typedarray_type want, void **data, size_t *n) {
  bool is = false;
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &t, n, data, &ab, &off) != napi_ok || t != want ||
      (*n > 0 && *data == NULL)) {
    char m[96];
    snprintf(m, sizeof m, "%s has the wrong type", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", m);
    return false;
  }
  return true;
}

bool typed_ref(napi_env env, napi_value v, const char *what, napi_typedarray_type tt, size_t want, void **data,
               size_t *n, napi_ref *ref) {
  if (!typed_of(env, v, what, tt, data, n)) return false;
  if (*n < want) {
    char m[96];
    snprintf(m, sizeof m, "%s is too short", what);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", m);
    return false;
  }
  return napi_create_reference(env, v, 1, ref) == napi_ok;
}

bool bytes_arg(napi_env env, napi_value v, const char *what, uint8_t **data, size_t *len) {
  void *d = NULL;
  if (!bytes_of(env, v, &d, len)) {
    char m[96];
    snprintf(m, sizeof m, "%s must be a Buffer", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", m);
    return false;
  }
  *data = d;
  return true;
}

int32_t *status_arg(napi_env env, napi_value v, bool *ok) {
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

napi_value make_int(napi_env env, int64_t v) {
  napi_value r;
  if (napi_create_int64(env, v, &r) != napi_ok) return NULL;
  return r;
}

napi_value make_undefined(napi_env env) {
  napi_value r;
  napi_get_undefined(env, &r);
  return r;
}

void delete_ref(napi_env env, napi_ref *ref) {
  if (*ref) {
    napi_delete_reference(env, *ref);
    *ref = NULL;
  }
}
