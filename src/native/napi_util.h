// Argument checking and error helpers shared by every entry point of the addon.
//
// Errors: system call failures throw an Error with numeric `errno`, `code` ("EPERM") and
// `syscall`; argument mistakes throw TypeError/RangeError. The arg_* helpers and get_args
// return false after throwing, so a caller just returns NULL.

#ifndef IIPTRAN_NAPI_UTIL_H
#define IIPTRAN_NAPI_UTIL_H

#include <node_api.h>

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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


// One enumerable method in a napi_property_descriptor table.
#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

void throw_errno(napi_env env, const char *syscall, const char *subject, int err);

bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, size_t *got,
              napi_value *self);
bool arg_int(napi_env env, napi_value v, const char *what, int64_t lo, int64_t hi, int64_t *out);
bool arg_fd(napi_env env, napi_value v, int *fd);
bool arg_bool(napi_env env, napi_value v, const char *what, bool *out);
// Same rules as the kernel's dev_valid_name(), checked here so the error names the problem.
bool arg_ifname(napi_env env, napi_value v, char out[IFNAMSIZ]);
// An IPv4 address as a dotted string or a host-order uint32; result in network order.
bool arg_ipv4(napi_env env, napi_value v, uint32_t *net);
bool arg_function(napi_env env, napi_value v, const char *what);

// Bytes of a Buffer / Uint8Array (any TypedArray or DataView is accepted as raw bytes); false
// without throwing when `v` is none of those, so the caller can name the argument.
bool bytes_of(napi_env env, napi_value v, void **data, size_t *len);
// A TypedArray of any kind with at least `need` elements; reports its kind in *type.
bool typed_array_arg(napi_env env, napi_value v, const char *what, size_t need, napi_typedarray_type *type,
                     void **data);
// A TypedArray of exactly type `want`; its element count in *n. Throws naming `what` otherwise.
bool typed_of(napi_env env, napi_value v, const char *what, napi_typedarray_type want, void **data, size_t *n);
// typed_of with at least `want` elements, held by a new reference in *ref (the caller deletes
// it) so the memory stays while native code keeps the pointer. Throws naming `what` otherwise.
bool typed_ref(napi_env env, napi_value v, const char *what, napi_typedarray_type tt, size_t want, void **data,
               size_t *n, napi_ref *ref);
// bytes_of, throwing a TypeError naming `what` when `v` holds no bytes.
bool bytes_arg(napi_env env, napi_value v, const char *what, uint8_t **data, size_t *len);
// Optional trailing Int32Array receiving the last errno of a batch call (0 when none); NULL
// when absent, with *ok false when it was given but is not one.
int32_t *status_arg(napi_env env, napi_value v, bool *ok);

napi_value make_int(napi_env env, int64_t v);
napi_value make_undefined(napi_env env);
// Deletes *ref if set and clears it, so a second call is harmless.
void delete_ref(napi_env env, napi_ref *ref);

#endif
