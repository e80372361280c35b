// The batch seal and open calls' shared vocabulary with src/io/esp-native.ts: per-item status
// codes and the control array's slots. Numbers, not names: the JS side maps them to drop reasons.

#ifndef IIPTRAN_ESP_BATCH_H
#define IIPTRAN_ESP_BATCH_H

#include "esp_sa.h"

// Item status. In: 0 = process, anything else = skip (the caller already dropped it).
enum esp_status {
  ST_OK = 0,
  ST_BAD_OFFLOAD = -1,   // malformed virtio_net_hdr / GSO metadata, or a packet that contradicts it
  ST_EXHAUSTED = -2,     // the SA ran out of sequence numbers
  ST_CRYPTO = -3,        // OpenSSL failed (a bug, or memory)
  ST_NO_ROOM = -4,       // does not fit even an empty output buffer
  ST_BAD_ICV = -5,       // open: authentication failed
  ST_BAD_PADDING = -6,   // open: authentic, but the trailer is not RFC 4303 padding
  ST_MALFORMED = -7,     // open: shorter than an ESP packet
};

// espSeal's control array (Uint32Array). IN: set by the caller; OUT: set by the call.
enum seal_ctl {
  SC_SPI,          // IN
  SC_SEQ_HI,       // IN/OUT: last sequence number used (high, low)
  SC_SEQ_LO,
  SC_IV_HI,        // IN: the SA's random IV base (IV = base + seq, mod 2^64)
  SC_IV_LO,
  SC_FLAGS,        // IN: SF_*
  SC_SEQ_LEFT,     // IN/OUT: sequence numbers the SA may still use
  SC_NEXT_HDR,     // IN
  SC_OUT_USED,     // IN/OUT: bytes of the output buffer in use
  SC_OUT_COUNT,    // IN/OUT: packets in the output arrays
  SC_ITEM_NEXT,    // OUT: first item not processed (output full), or `end`
  SC_INNER_BYTES,  // OUT: inner bytes sealed by this call
  SC_PACKETS,      // OUT: ESP packets made by this call
  SC_SEGMENTED,    // OUT: GSO items split by this call
  SC_LEN
};

#define SF_ESN 1
#define SF_VNET 2  // every input packet is preceded by a virtio_net_hdr

// One outbound SA's sealing state for a run of packets (the SA's counter moves in here).
typedef struct seal_ctx {
  esp_sa_t *sa;
  uint32_t spi, seq_hi, seq_lo, iv_hi, iv_lo, left;
  bool esn;
  uint8_t nh;
} seal_ctx_t;

// A batch to seal: inputs, per-item status, and the output arrays; used/count move on, and
// made/segmented/inner say what the call did.
typedef struct seal_run {
  const uint8_t *in;
  size_t in_len;
  const int32_t *ioff, *ilen;
  int32_t *st;
  bool vnet;
  uint8_t *out;
  size_t out_len;
  int32_t *ooff, *olen;
  uint8_t *otos;
  size_t cap, used, count;
  uint32_t made, segmented;
  uint64_t inner;
} seal_run_t;

int64_t esp_seal_items(seal_ctx_t *c, seal_run_t *r, int64_t start, int64_t end);
int esp_seal_plan(const uint8_t *pkt, int len, const uint8_t *vnet_hdr, int *gso);

napi_value js_esp_seal(napi_env env, napi_callback_info info);
napi_value js_esp_open(napi_env env, napi_callback_info info);

#endif
