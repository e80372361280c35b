// The virtio_net_hdr a TUN opened with IFF_VNET_HDR puts in front of every packet, both ways
// (include/uapi/linux/virtio_net.h), and the offload constants older headers lack.

#ifndef IIPTRAN_VNET_H
#define IIPTRAN_VNET_H

#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdint.h>
#include <string.h>

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

#define VNET_HDR_LEN 10

// The header's fields in host order. The TUN speaks the host's byte order (legacy virtio
// without TUNSETVNETLE/BE); every Linux host this runs on is little-endian, as is virtio 1.0.
typedef struct vnet_hdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
} vnet_hdr_t;

static inline void vnet_read(vnet_hdr_t *h, const uint8_t *p) {
  h->flags = p[0];
  h->gso_type = p[1];
  memcpy(&h->hdr_len, p + 2, 2);
  memcpy(&h->gso_size, p + 4, 2);
  memcpy(&h->csum_start, p + 6, 2);
  memcpy(&h->csum_offset, p + 8, 2);
}

static inline void vnet_write(uint8_t *p, const vnet_hdr_t *h) {
  p[0] = h->flags;
  p[1] = h->gso_type;
  memcpy(p + 2, &h->hdr_len, 2);
  memcpy(p + 4, &h->gso_size, 2);
  memcpy(p + 6, &h->csum_start, 2);
  memcpy(p + 8, &h->csum_offset, 2);
}

#endif
