// espOpen: authenticate and decrypt a run of ESP packets of one SA, in place in the receive
// buffer: packet i's payload ends up at off[i] + 16, where its IV was plus 8. No replay window
// and no policy here (the data plane does both, around this call); only the AEAD and the
// trailer, in the same order as the JS engine (esp-engine.ts espVerify): the ICV first, the
// padding only on authentic data.

#include "esp_batch.h"
#include "csum.h"

// espOpen(sa, buf, off: Int32Array, len: Int32Array, seqHi: Uint32Array | null, start, end,
//         result: Int32Array, nextHeader: Uint8Array, spi, esn) -> packets that opened.
// result[i] becomes the payload length, or a negative status (ST_BAD_ICV, ST_BAD_PADDING,
// ST_MALFORMED, ST_CRYPTO). seqHi[i] is the inferred high half of packet i's ESN sequence
// number (read only with esn).
napi_value js_esp_open(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  if (!get_args(env, info, 11, argv, NULL, NULL)) return NULL;
  esp_sa_t *sa = esp_sa_arg(env, argv[0]);
  if (sa == NULL) return NULL;
  uint8_t *buf, *nh;
  size_t buf_len, n_off, n_len, n_hi = 0, n_res, n_nh;
  int32_t *off, *len, *res;
  uint32_t *seq_hi = NULL;
  int64_t start, end, spi;
  bool esn;
  if (!bytes_arg(env, argv[1], "buf", &buf, &buf_len) ||
      !typed_of(env, argv[2], "off", napi_int32_array, (void **)&off, &n_off) ||
      !typed_of(env, argv[3], "len", napi_int32_array, (void **)&len, &n_len) ||
      !arg_int(env, argv[5], "start", 0, INT32_MAX, &start) || !arg_int(env, argv[6], "end", start, INT32_MAX, &end) ||
      !typed_of(env, argv[7], "result", napi_int32_array, (void **)&res, &n_res) ||
      !typed_of(env, argv[8], "nextHeader", napi_uint8_array, (void **)&nh, &n_nh) ||
      !arg_int(env, argv[9], "spi", 0, UINT32_MAX, &spi) || !arg_bool(env, argv[10], "esn", &esn))
    return NULL;
  if (esn && !typed_of(env, argv[4], "seqHi", napi_uint32_array, (void **)&seq_hi, &n_hi)) return NULL;
  if ((size_t)end > n_off || (size_t)end > n_len || (size_t)end > n_res || (size_t)end > n_nh ||
      (esn && (size_t)end > n_hi) || sa->encrypt) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "espOpen: arrays shorter than `end`, or an outbound SA");
    return NULL;
  }
  int64_t opened = 0;
  for (int64_t i = start; i < end; i++) {
    int32_t o = off[i], l = len[i];
    if (o < 0 || l < ESP_FIXED_OVERHEAD || (size_t)o + (size_t)l > buf_len) {
      res[i] = ST_MALFORMED;
      continue;
    }
    uint8_t *esp = buf + o;
    if (rd32(esp) != (uint32_t)spi) {
      res[i] = ST_MALFORMED;
      continue;
    }
    uint8_t aad[12];
    int aad_len = esp_aad(aad, (uint32_t)spi, esn ? seq_hi[i] : 0, rd32(esp + 4), esn);
    int ct_len = l - ESP_PAYLOAD_OFF - ESP_ICV_LEN;
    uint8_t *pt = esp + ESP_PAYLOAD_OFF;
    if (!aead_begin(sa, esp + ESP_HDR_LEN, aad, aad_len) || !aead_update(sa, pt, pt, ct_len)) {
      res[i] = ST_CRYPTO;
      continue;
    }
    if (!aead_open_end(sa, pt + ct_len)) {
      res[i] = ST_BAD_ICV;
      continue;
    }
    int pad = pt[ct_len - 2];
    int payload = ct_len - 2 - pad;
    bool ok = payload >= 0;
    for (int k = 0; ok && k < pad; k++) ok = pt[payload + k] == (uint8_t)(k + 1);
    if (!ok) {
      res[i] = ST_BAD_PADDING;
      continue;
    }
    res[i] = payload;
    nh[i] = pt[ct_len - 1];
    opened++;
  }
  return make_int(env, opened);
}
