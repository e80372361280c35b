// The OS sits behind these small interfaces (wireguard-go's tun.Device / conn.Bind). The data
// plane only ever sees them; real implementations (tun.ts, udp-underlay.ts, raw-esp.ts) and
// fakes (fake-tun.ts, fake-underlay.ts) live beside this file.
//
// Batch contract: a receive callback is handed an array of Buffers that are VIEWS into a
// buffer the implementation reuses. They are valid only until the callback returns; copy
// anything you keep.

import type { IpAddr } from '../wire/addr.js';

export interface TunDevice {
  readonly name: string;
  readonly ifindex: number;
  /** Start delivering batches of packets read from the TUN (IFF_NO_PI: raw IP packets). */
  onPackets(cb: (pkts: Buffer[]) => void): void;
  /**
   * Write packets to the TUN. Synchronous, non-blocking: returns how many were written. A
   * packet the kernel refuses (EIO on a down link, EAGAIN) is skipped, not retried.
   */
  write(pkts: Buffer[]): number;
  /** TUNSETCARRIER: false makes the link show NO-CARRIER so routing daemons react at once. */
  setCarrier(up: boolean): void;
  close(): void;
}

export interface Datagram {
  data: Buffer;
  /**
   * The peer: source when received, destination when sent. An IPv4 address is a number
   * inside, so the batch path never converts text; format it only for logs and views.
   */
  addr: IpAddr;
  /** UDP port; 0 for raw IP (protocol 50) sockets. */
  port: number;
  /**
   * Outer IPv4 TOS byte (DSCP << 2 | ECN, 0..255). Received: as it arrived, undefined when the
   * socket could not tell. Sent: what the kernel puts in the outer header; undefined means 0.
   */
  tos?: number;
}

export interface UnderlaySocket {
  /** 'udp' = RFC 3948 UDP encapsulation, 'esp' = raw IP protocol 50. */
  readonly kind: 'udp' | 'esp';
  /** Deliver batches of received datagrams. For 'esp', data starts at the ESP header (IP header stripped). */
  onDatagrams(cb: (dgrams: Datagram[]) => void): void;
  /** Send a batch; returns how many were accepted by the kernel. */
  send(dgrams: Datagram[]): number;
  close(): void;
}
