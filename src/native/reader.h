// The Reader: uv_poll on the Node loop, batched read()/recvmmsg() into one preallocated
// ArrayBuffer that JS sees directly. Shared by reader.c (construction and JS methods),
// reader_poll.c (the wakeup path) and reader_lifecycle.c (stop, release, free).
//
// Buffer layout: slot i spans `stride` bytes from i * stride; its packet starts `headroom`
// bytes in and holds up to `slot` bytes. headroom is READ_HEADROOM in 'read' mode (TUN) and 0
// in 'recvmmsg' mode, where stride == slot as before.

#ifndef IIPTRAN_READER_H
#define IIPTRAN_READER_H

#include "addon.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <uv.h>

// Caps keep a careless caller from asking for absurd allocations.
#define MAX_BATCH 1024
#define MIN_SLOT 256
#define MAX_SLOT (1 << 20)
#define MAX_READER_BYTES (64u << 20)

enum reader_mode { MODE_READ = 0, MODE_RECVMMSG = 1 };

// Room for IP_TOS and UDP_GRO plus a few more cmsgs, should some later option ask for them: a
// truncated control buffer (MSG_CTRUNC) would cost us the TOS, never the datagram.
#define CTRL_SLOT 64

typedef struct reader {
  napi_env env;
  uv_loop_t *loop;
  uv_poll_t poll;
  int fd;
  enum reader_mode mode;
  uint32_t slot;
  uint32_t headroom;  // free bytes before each packet
  uint32_t stride;    // headroom + slot
  uint32_t batch;
  uint8_t *data;      // owned by the JS ArrayBuffer `data_ref` refers to
  int32_t *lens;      // ditto, `lens_ref`
  uint32_t *addrs;    // recvmmsg only
  uint16_t *ports;    // recvmmsg only
  int16_t *tos;       // recvmmsg only: outer TOS byte, -1 when no IP_TOS cmsg came with it
  uint16_t *gso;      // recvmmsg only: UDP GRO segment size, 0 when the datagram is not coalesced
  uint8_t *addrs6;    // recvmmsg only: 16-byte source of an IPv6 datagram (addrs[i] is then 0)
  struct mmsghdr *msgs;
  struct iovec *iov;
  struct sockaddr_in6 *sas;  // room for either family: an IPv6 socket's names are 28 bytes
  uint8_t *ctrl;      // recvmmsg only: CTRL_SLOT bytes of control data per slot
  napi_ref self_ref;  // strong while polling so a forgotten reader cannot be freed under libuv
  napi_ref cb_ref;
  napi_ref data_ref, lens_ref, addrs_ref, ports_ref, tos_ref, gso_ref, addrs6_ref;
  napi_async_context actx;
  bool poll_inited;
  bool closing;       // uv_close requested (or never started)
  bool handle_closed; // uv close callback has run
  bool finalized;     // JS object collected; whoever finishes last frees
  bool in_callback;
  bool actx_destroy_pending;
  bool hook_added;
  struct fast_in *fast_in;   // socket readers: the inbound fast path's SAs (fastpath_in.c)
  struct fast_out *fast_out; // TUN readers: the outbound fast path, when JS installed one (fastpath.c)
  struct reader *next; // registry of polled fds
} reader_t;

// Where packet i of the current batch starts.
static inline uint8_t *reader_packet(const reader_t *r, uint32_t i) {
  return r->data + (size_t)i * r->stride + r->headroom;
}

// reader_lifecycle.c
bool registry_add(reader_t *r);
void registry_remove(reader_t *r);
void reader_free(reader_t *r);
void reader_stop(reader_t *r);
void reader_env_cleanup(void *arg);
void reader_release_js(napi_env env, reader_t *r);
void reader_finalize(napi_env env, void *data, void *hint);

// reader_poll.c
void reader_on_poll(uv_poll_t *h, int status, int events);

#endif
