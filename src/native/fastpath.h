// The outbound fast path: a TUN reader whose vlink has an established SA seals and sends a
// batch of ordinary packets itself, without entering JS (src/dataplane/fast-state.ts installs
// and clears it). Its state lives in two Float64Arrays JS also reads and writes, so that sa.seq,
// the SA's and the vlink's counters are one number whichever path moved them.

#ifndef IIPTRAN_FASTPATH_H
#define IIPTRAN_FASTPATH_H

#include "esp_batch.h"

// The vlink's cells (fast-state.ts FO_*). Config is written by JS when it installs the state;
// counters are moved by both paths.
enum fo_cell {
  FO_ON,          // 1: the state is valid; JS sets 0 on any change it cannot vouch for
  FO_FD,          // underlay UDP socket
  FO_ADDR,        // peer underlay IPv4, host order
  FO_PORT,        // peer UDP port
  FO_MTU,         // vlink MTU: a bigger packet goes to JS (ICMP fragmentation needed)
  FO_VNET,        // 1: the TUN hands over a virtio_net_hdr before each packet
  FO_GSO,         // unused (the fast path sends by sendmmsg); kept so the layout stays put
  FO_TX_PACKETS,  // vlink stats.txPackets
  FO_TX_BYTES,    // vlink stats.txBytes
  FO_SEND_ERR,    // vlink drops['send-error']
  FO_INTERNAL,    // vlink drops['internal-error']
  FO_BATCHES,     // batches the fast path handled (show links: fastBatches)
  FO_FALLBACKS,   // batches it handed to JS while installed
  // Inbound (fastpath_in.c), same array:
  FI_RX_PACKETS,  // vlink stats.rxPackets
  FI_RX_BYTES,    // vlink stats.rxBytes
  FI_ALIVE,       // 1: an authentic packet arrived (vlink rxAlive)
  FI_TUN_WRITE,   // vlink drops['tun-write']
  FI_TUN_FD,      // the vlink's TUN
  FI_TUN_FLAGS,   // TW_VNET | TW_GRO (GRO cleared here when the kernel refuses a coalesced packet)
  FI_BATCHES,     // datagram batches handled without JS
  FI_FALLBACKS,   // batches handed to JS while some inbound state was installed
  FO_LEN
};

// An inbound SA's cells (fast-state.ts SI_*).
enum si_cell { SI_ON, SI_SRC, SI_PORT, SI_PACKETS, SI_BYTES, SI_LEN };

// The outbound SA's cells (fast-state.ts SO_*): sa.seq and sa.stats live here once aliased.
enum so_cell { SO_SEQ, SO_SEQ_MAX, SO_SPI, SO_IV_HI, SO_IV_LO, SO_ESN, SO_PACKETS, SO_BYTES, SO_LEN };

struct reader;

// Called by the TUN reader with a batch of n packets: true when the fast path sent (or dropped
// and counted) all of them, false when the batch must go to JS untouched.
bool fast_out_batch(struct reader *r, int n);
void fast_out_free(napi_env env, struct reader *r);

napi_value js_fast_out_set(napi_env env, napi_callback_info info);

// The inbound half: a UDP reader's batch of ESP datagrams of SAs JS installed, opened, checked
// and written to their TUNs; false hands the batch to JS untouched.
bool fast_in_batch(struct reader *r, int n);
void fast_in_free(napi_env env, struct reader *r);
napi_value js_fast_in_set(napi_env env, napi_callback_info info);

#endif
