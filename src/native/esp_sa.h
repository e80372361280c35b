// One ESP SA's AEAD context (OpenSSL EVP, from the OpenSSL Node itself is linked with), used by
// the batch seal (esp_seal.c) and open (esp_open.c). The key schedule is computed once, when
// the SA is made; a packet only loads its nonce.

#ifndef IIPTRAN_ESP_SA_H
#define IIPTRAN_ESP_SA_H

#include "addon.h"

#include <openssl/evp.h>

#define ESP_HDR_LEN 8
#define ESP_IV_LEN 8
#define ESP_ICV_LEN 16
#define ESP_SALT_LEN 4
// Header and IV precede the ciphertext.
#define ESP_PAYLOAD_OFF (ESP_HDR_LEN + ESP_IV_LEN)
// Header, IV, pad length, next header and ICV: everything but the padding.
#define ESP_FIXED_OVERHEAD (ESP_HDR_LEN + ESP_IV_LEN + 2 + ESP_ICV_LEN)

// Suite numbers shared with src/io/esp-native.ts.
enum esp_suite { SUITE_AES128_GCM = 0, SUITE_AES256_GCM = 1, SUITE_CHACHA20_POLY1305 = 2 };

typedef struct esp_sa {
  uint32_t magic;
  EVP_CIPHER_CTX *ctx;
  uint8_t salt[ESP_SALT_LEN];
  bool encrypt;
} esp_sa_t;

// The SA behind a JS EspSa handle (an external), or NULL after throwing a TypeError.
esp_sa_t *esp_sa_arg(napi_env env, napi_value v);

// Starts one packet: nonce = salt || iv, then the AAD. False on an OpenSSL failure.
bool aead_begin(esp_sa_t *s, const uint8_t iv[ESP_IV_LEN], const uint8_t *aad, int aad_len);
// Encrypts or decrypts `len` bytes; `out` may equal `in`.
bool aead_update(esp_sa_t *s, uint8_t *out, const uint8_t *in, int len);
// Seal: finishes the packet and writes its ICV.
bool aead_seal_end(esp_sa_t *s, uint8_t tag[ESP_ICV_LEN]);
// Open: true only when the ICV verifies.
bool aead_open_end(esp_sa_t *s, const uint8_t tag[ESP_ICV_LEN]);

// ESP's AAD: SPI || seq (RFC 4303 §2), or SPI || seq_hi || seq_lo with ESN (RFC 4106 §5).
static inline int esp_aad(uint8_t aad[12], uint32_t spi, uint32_t seq_hi, uint32_t seq_lo, bool esn) {
  aad[0] = (uint8_t)(spi >> 24), aad[1] = (uint8_t)(spi >> 16), aad[2] = (uint8_t)(spi >> 8), aad[3] = (uint8_t)spi;
  if (!esn) {
    aad[4] = (uint8_t)(seq_lo >> 24), aad[5] = (uint8_t)(seq_lo >> 16), aad[6] = (uint8_t)(seq_lo >> 8), aad[7] = (uint8_t)seq_lo;
    return 8;
  }
  aad[4] = (uint8_t)(seq_hi >> 24), aad[5] = (uint8_t)(seq_hi >> 16), aad[6] = (uint8_t)(seq_hi >> 8), aad[7] = (uint8_t)seq_hi;
  aad[8] = (uint8_t)(seq_lo >> 24), aad[9] = (uint8_t)(seq_lo >> 16), aad[10] = (uint8_t)(seq_lo >> 8), aad[11] = (uint8_t)seq_lo;
  return 12;
}

napi_value js_esp_sa_new(napi_env env, napi_callback_info info);

#endif
