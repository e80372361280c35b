// iiptran native addon: TUN devices, UDP and raw IPv4 and IPv6 sockets, and batched packet I/O driven
// by the Node event loop itself (uv_poll), so a packet never costs a thread-pool hop.
//
// One file per concern, all wired up in module.c:
//   napi_util.c  argument checks, errno errors      tun.c        TUN open, TUNSETCARRIER
//   sockets.c    UDP and raw IPv4 sockets            batch.c      writeBatch, sendBatch
//   sock6.c      UDP and raw IPv6 sockets, sendBatch6 (batch.c's sendBatch for IPv6)
//   reader*.c    the batched Reader (construction, polling, lifetime)
//   ifctl.c      interface ioctls: MTU read; MTU set and IFF_UP only under `testOnly`
//   send_seg.c   sendSeg: datagrams in one buffer, equal-sized runs as one UDP GSO send
//   tun_write.c  tunWrite: packets in one buffer into a TUN, TCP coalesced (GRO) with offloads
//   esp_sa.c     EspSa: an OpenSSL AEAD context per SA     esp_seal.c / esp_open.c  batch ESP
//   csum.c       the Internet checksum for segmentation, completion and coalescing
//   exec.c       execSelf: node again, same pid, with options only the command line can set
//
// Conventions shared with src/native/index.ts:
//  - IPv4 addresses cross the boundary as uint32 in HOST byte order (10.0.0.1 == 0x0a000001),
//    so JS can take octets with shifts; ports are host order too.
//  - System call failures throw an Error with numeric `errno`, `code` ("EPERM") and `syscall`.
//    Argument mistakes throw TypeError/RangeError. Hot-path calls (writeBatch, sendBatch, the
//    Reader callback) never throw for kernel errors: they count, and report the last errno.

#ifndef IIPTRAN_ADDON_H
#define IIPTRAN_ADDON_H

#include "napi_util.h"

// Free bytes in front of every packet a 'read'-mode (TUN) Reader delivers, so the data plane
// can later encrypt in place: the ESP header (8) and IV (up to 16) go in front of the payload,
// and 64 leaves room beyond that for a UDP header or a 4-byte NAT-T marker, while keeping every
// packet 64-byte aligned. index.ts holds the same number as READ_HEADROOM and refuses an addon
// built with another one.
#define READ_HEADROOM 64

// tun.c
napi_value js_tun_open(napi_env env, napi_callback_info info);
napi_value js_tun_set_carrier(napi_env env, napi_callback_info info);

// sockets.c
napi_value js_udp_open(napi_env env, napi_callback_info info);
napi_value js_raw_open(napi_env env, napi_callback_info info);
napi_value js_sock_name(napi_env env, napi_callback_info info);
napi_value js_close_fd(napi_env env, napi_callback_info info);
napi_value js_udp_offload(napi_env env, napi_callback_info info);

// send_seg.c, tun_write.c: batches laid out in one buffer (UDP GSO; TUN GRO)
napi_value js_send_seg(napi_env env, napi_callback_info info);
napi_value js_tun_write(napi_env env, napi_callback_info info);
int64_t tun_write_run(int fd, const uint8_t *buf, const int32_t *off, const int32_t *len, int64_t count, int flags,
                      bool *gso_refused, int *last_err);
napi_value js_tun_write_capture(napi_env env, napi_callback_info info);  // testOnly

// exec.c: the daemon re-executes itself with V8 heap options
napi_value js_exec_self(napi_env env, napi_callback_info info);

// batch.c
napi_value js_write_batch(napi_env env, napi_callback_info info);
napi_value js_send_batch(napi_env env, napi_callback_info info);

// sock6.c: IPv6 underlay sockets and their batched send (issue #10)
napi_value js_udp6_open(napi_env env, napi_callback_info info);
napi_value js_raw6_open(napi_env env, napi_callback_info info);
napi_value js_sock_name6(napi_env env, napi_callback_info info);
napi_value js_send_batch6(napi_env env, napi_callback_info info);

// reader.c: the Reader class, ready to be set on exports.
napi_status reader_define_class(napi_env env, napi_value *cls);

// ifctl.c: the MTU read, and the `testOnly` object (MTU set, IFF_UP).
napi_value js_if_get_mtu(napi_env env, napi_callback_info info);
napi_status test_only_exports(napi_env env, napi_value *obj);

#endif
