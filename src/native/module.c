// Module setup: the addon's whole JS surface in one table (see addon.h for which file holds
// what). Functions only tests may call live under `testOnly`, apart from the daemon's surface.

#include "addon.h"
#include "esp_batch.h"
#include "fastpath.h"

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      FN("fastOutSet", js_fast_out_set), FN("fastInSet", js_fast_in_set),
      FN("tunOpen", js_tun_open),     FN("tunSetCarrier", js_tun_set_carrier),
      FN("ifGetMtu", js_if_get_mtu),
      FN("udpOpen", js_udp_open),     FN("rawOpen", js_raw_open),
      FN("sockName", js_sock_name),   FN("closeFd", js_close_fd),
      FN("writeBatch", js_write_batch), FN("sendBatch", js_send_batch),
      FN("espSaNew", js_esp_sa_new),  FN("espSeal", js_esp_seal),
      FN("espOpen", js_esp_open),    FN("udpOffload", js_udp_offload),
      FN("sendSeg", js_send_seg),     FN("tunWrite", js_tun_write),
      FN("execSelf", js_exec_self),
      FN("udp6Open", js_udp6_open),   FN("raw6Open", js_raw6_open),
      FN("sockName6", js_sock_name6), FN("sendBatch6", js_send_batch6),
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns));

  napi_value v;
  NAPI_CALL(env, napi_create_uint32(env, READ_HEADROOM, &v));
  NAPI_CALL(env, napi_set_named_property(env, exports, "READ_HEADROOM", v));
  NAPI_CALL(env, reader_define_class(env, &v));
  NAPI_CALL(env, napi_set_named_property(env, exports, "Reader", v));
  NAPI_CALL(env, test_only_exports(env, &v));
  NAPI_CALL(env, napi_set_named_property(env, exports, "testOnly", v));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
