// EspSa handles: an EVP cipher context per SA and direction, freed (and its key schedule
// cleansed, EVP_CIPHER_CTX_free does that) when the JS object is collected.

#include "esp_sa.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

// An EspSa is a napi external (the cheapest object to hand back and forth on the hot path);
// the magic tells it apart from any other external passed by mistake.
#define ESP_SA_MAGIC 0x45535053u  // "ESPS"

static void esp_sa_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  esp_sa_t *s = data;
  EVP_CIPHER_CTX_free(s->ctx);
  OPENSSL_cleanse(s->salt, sizeof s->salt);
  s->magic = 0;
  free(s);
}

// espSaNew(suite: 0|1|2, key, salt, encrypt: boolean) -> EspSa
napi_value js_esp_sa_new(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int64_t suite;
  bool encrypt;
  void *key, *salt;
  size_t key_len, salt_len;
  if (!get_args(env, info, 4, argv, NULL, NULL) || !arg_int(env, argv[0], "suite", 0, 2, &suite) ||
      !arg_bool(env, argv[3], "encrypt", &encrypt))
    return NULL;
  if (!bytes_of(env, argv[1], &key, &key_len) || !bytes_of(env, argv[2], &salt, &salt_len)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "key and salt must be Buffers");
    return NULL;
  }
  const EVP_CIPHER *c = suite == SUITE_AES128_GCM ? EVP_aes_128_gcm()
                        : suite == SUITE_AES256_GCM ? EVP_aes_256_gcm()
                                                    : EVP_chacha20_poly1305();
  if (c == NULL || key_len != (size_t)EVP_CIPHER_key_length(c) || salt_len != ESP_SALT_LEN) {
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "key or salt length does not match the suite");
    return NULL;
  }
  esp_sa_t *s = calloc(1, sizeof *s);
  if (s == NULL) {
    throw_errno(env, "calloc", "EspSa", 12);
    return NULL;
  }
  s->magic = ESP_SA_MAGIC;
  s->encrypt = encrypt;
  memcpy(s->salt, salt, ESP_SALT_LEN);
  s->ctx = EVP_CIPHER_CTX_new();
  // The 12-byte nonce (salt || IV) is both ciphers' default IV length; only the key goes in now.
  if (s->ctx == NULL || EVP_CipherInit_ex(s->ctx, c, NULL, key, NULL, encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_iv_length(s->ctx) != ESP_SALT_LEN + ESP_IV_LEN) {
    esp_sa_finalize(env, s, NULL);
    napi_throw_error(env, "ERR_CRYPTO", "OpenSSL refused the AEAD context");
    return NULL;
  }
  napi_value ext;
  if (napi_create_external(env, s, esp_sa_finalize, NULL, &ext) != napi_ok) {
    esp_sa_finalize(env, s, NULL);
    napi_throw_error(env, "ERR_NAPI", "EspSa construction failed");
    return NULL;
  }
  return ext;
}

esp_sa_t *esp_sa_arg(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_external && napi_get_value_external(env, v, &p) == napi_ok &&
      p != NULL && ((esp_sa_t *)p)->magic == ESP_SA_MAGIC)
    return p;
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "sa must be an EspSa from espSaNew");
  return NULL;
}

bool aead_begin(esp_sa_t *s, const uint8_t iv[ESP_IV_LEN], const uint8_t *aad, int aad_len) {
  uint8_t nonce[ESP_SALT_LEN + ESP_IV_LEN];
  int n;
  memcpy(nonce, s->salt, ESP_SALT_LEN);
  memcpy(nonce + ESP_SALT_LEN, iv, ESP_IV_LEN);
  return EVP_CipherInit_ex(s->ctx, NULL, NULL, NULL, nonce, -1) == 1 &&
         EVP_CipherUpdate(s->ctx, NULL, &n, aad, aad_len) == 1;
}

bool aead_update(esp_sa_t *s, uint8_t *out, const uint8_t *in, int len) {
  int n;
  if (len == 0) return true;
  return EVP_CipherUpdate(s->ctx, out, &n, in, len) == 1 && n == len;
}

bool aead_seal_end(esp_sa_t *s, uint8_t tag[ESP_ICV_LEN]) {
  uint8_t dummy[16];
  int n;
  return EVP_CipherFinal_ex(s->ctx, dummy, &n) == 1 &&
         EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_AEAD_GET_TAG, ESP_ICV_LEN, tag) == 1;
}

bool aead_open_end(esp_sa_t *s, const uint8_t tag[ESP_ICV_LEN]) {
  uint8_t dummy[16];
  int n;
  return EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_AEAD_SET_TAG, ESP_ICV_LEN, (void *)tag) == 1 &&
         EVP_CipherFinal_ex(s->ctx, dummy, &n) == 1;
}
