// The Reader class: construction (argument checks, the shared views, the poll handle) and its
// JS methods close/ref/unref/isActive.

#include "reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

// What close() does, also for a construction that fails once the wrapper owns r: stop, drop
// every reference into JS and the async context, and leave only the finalizer to run.
static void reader_close_js(napi_env env, reader_t *r) {
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
}

// The caller's ArrayBuffer as the reader's packet memory, when it is one and big enough: TUN
// readers of one node share one, since a batch is consumed before the loop reads the next fd.
static bool shared_arena(napi_env env, napi_value v, size_t need, void **data, bool *given) {
  bool is = false;
  *given = false;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t == napi_undefined || t == napi_null) return true;
  size_t len = 0;
  if (napi_is_arraybuffer(env, v, &is) != napi_ok || !is || napi_get_arraybuffer_info(env, v, data, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "arena must be an ArrayBuffer");
    return false;
  }
  if (len < need || *data == NULL) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "arena is smaller than (headroom + slotSize) * batchSize");
    return false;
  }
  *given = true;
  return true;
}

// new Reader(fd, mode: 'read'|'recvmmsg', slotSize, batchSize, cb, arena?: ArrayBuffer)
static napi_value js_reader_new(napi_env env, napi_callback_info info) {
  napi_value argv[6], self, target;
  if (!get_args(env, info, 6, argv, NULL, &self)) return NULL;
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
  uint32_t headroom = mode == MODE_READ ? READ_HEADROOM : 0;
  if (((uint64_t)slot + headroom) * (uint64_t)batch > MAX_READER_BYTES) {
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
  r->headroom = headroom;
  r->stride = r->slot + headroom;
  r->closing = true;  // until the poll handle exists, there is nothing for libuv to close
  r->handle_closed = true;

  napi_value data_ab, lens_arr, addrs_arr = NULL, ports_arr = NULL, tos_arr = NULL, gso_arr = NULL;
  napi_value addrs6_arr = NULL, name;
  void *p;
  bool given;
  if (!shared_arena(env, argv[5], (size_t)r->stride * (size_t)batch, &p, &given)) goto fail_js;
  if (given) {
    data_ab = argv[5];
    if (napi_create_reference(env, data_ab, 1, &r->data_ref) != napi_ok) goto fail_js;
  } else if (!make_typed(env, (size_t)r->stride * (size_t)batch, (napi_typedarray_type)-1, 0, &p, &data_ab, &r->data_ref)) {
    goto fail_js;
  }
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
    if (!make_typed(env, (size_t)batch * 2, napi_uint16_array, (size_t)batch, &p, &gso_arr, &r->gso_ref))
      goto fail_js;
    r->gso = p;
    if (!make_typed(env, (size_t)batch * 16, napi_uint8_array, (size_t)batch * 16, &p, &addrs6_arr, &r->addrs6_ref))
      goto fail_js;
    r->addrs6 = p;
    r->msgs = calloc((size_t)batch, sizeof *r->msgs);
    r->iov = calloc((size_t)batch, sizeof *r->iov);
    r->sas = calloc((size_t)batch, sizeof *r->sas);
    r->ctrl = calloc((size_t)batch, CTRL_SLOT);
    if (!r->msgs || !r->iov || !r->sas || !r->ctrl) {
      throw_errno(env, "calloc", "Reader", ENOMEM);
      goto fail_js;
    }
    for (uint32_t i = 0; i < r->batch; i++) {
      r->iov[i].iov_base = reader_packet(r, i);
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
        napi_set_named_property(env, self, "tos", tos_arr) != napi_ok ||
        napi_set_named_property(env, self, "gso", gso_arr) != napi_ok ||
        napi_set_named_property(env, self, "addrs6", addrs6_arr) != napi_ok)
      goto fail_js;
  } else {
    napi_value nul;
    napi_get_null(env, &nul);
    napi_set_named_property(env, self, "addrs", nul);
    napi_set_named_property(env, self, "ports", nul);
    napi_set_named_property(env, self, "tos", nul);
    napi_set_named_property(env, self, "gso", nul);
    napi_set_named_property(env, self, "addrs6", nul);
  }
  napi_value v;
  if (napi_create_uint32(env, r->slot, &v) != napi_ok || napi_set_named_property(env, self, "slotSize", v) != napi_ok ||
      napi_create_uint32(env, r->batch, &v) != napi_ok || napi_set_named_property(env, self, "batchSize", v) != napi_ok ||
      napi_create_uint32(env, r->headroom, &v) != napi_ok || napi_set_named_property(env, self, "headroom", v) != napi_ok ||
      napi_create_uint32(env, r->stride, &v) != napi_ok || napi_set_named_property(env, self, "stride", v) != napi_ok ||
      napi_create_int32(env, fd, &v) != napi_ok || napi_set_named_property(env, self, "fd", v) != napi_ok)
    goto fail_js;
  if (napi_create_string_utf8(env, "iiptran.Reader", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &r->actx) != napi_ok)
    goto fail_js;
  if (napi_get_uv_event_loop(env, &r->loop) != napi_ok) goto fail_js;
  if (napi_wrap(env, self, r, reader_finalize, NULL, NULL) != napi_ok) goto fail_js;
  // From here on the finalizer owns r; failures leave it closed and unreferenced.
  if (!registry_add(r)) {
    reader_close_js(env, r);
    throw_errno(env, "Reader", "fd already has a reader", EBUSY);
    return NULL;
  }
  int rc = uv_poll_init(r->loop, &r->poll, fd);
  if (rc != 0) {
    registry_remove(r);
    reader_close_js(env, r);
    throw_errno(env, "uv_poll_init", NULL, -rc);
    return NULL;
  }
  r->poll.data = r;
  r->poll_inited = true;
  r->closing = false;
  r->handle_closed = false;
  if (napi_create_reference(env, self, 1, &r->self_ref) != napi_ok) {
    reader_close_js(env, r);
    napi_throw_error(env, "ERR_NAPI", "Reader construction failed");
    return NULL;
  }
  rc = uv_poll_start(&r->poll, UV_READABLE, reader_on_poll);
  if (rc != 0) {
    reader_close_js(env, r);
    throw_errno(env, "uv_poll_start", NULL, -rc);
    return NULL;
  }
  if (napi_add_env_cleanup_hook(env, reader_env_cleanup, r) == napi_ok) r->hook_added = true;
  return self;

fail_js:
  if (r->actx) napi_async_destroy(env, r->actx);
  reader_release_js(env, r);  // nothing polls yet: this only drops the references
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
  reader_close_js(env, r);
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

napi_status reader_define_class(napi_env env, napi_value *cls) {
  napi_property_descriptor methods[] = {
      FN("close", js_reader_close),
      FN("ref", js_reader_ref),
      FN("unref", js_reader_unref),
      FN("isActive", js_reader_active),
  };
  return napi_define_class(env, "Reader", NAPI_AUTO_LENGTH, js_reader_new, NULL, sizeof methods / sizeof methods[0],
                           methods, cls);
}
