// The OS sits behind these small interfaces (wireguard-go's tun.Device / conn.Bind). The data
// plane only ever sees them; real implementations (tun.ts, udp-underlay.ts, raw-esp.ts) and
// fakes (fake-tun.ts, fake-underlay.ts) live beside this file.
//
// Batch contract: a receive callback is handed an array of Buffers that are VIEWS into a
// buffer the implementation reuses. They are valid only until the callback returns; copy
// anything you keep.

import type { IpAddr } from '../wire/addr.js';

/**
 * Packets laid out in one buffer, the data plane's batch form: packet i is
 * `buf[off[i], off[i] + len[i])`. No object per packet. The arrays may be longer than `count`;
 * the batch is valid only until the callback it was handed to returns (like the Buffer[]
 * batches), and its consumer may rewrite bytes and lengths in place.
 */
export interface PacketBatch {
  readonly buf: Buffer;
  readonly off: Int32Array;
  readonly len: Int32Array;
  count: number;
}

/** A batch read from a TUN. */
export interface TunBatch extends PacketBatch {
  /**
   * The TUN runs with offloads (IFF_VNET_HDR): each packet has its 10-byte virtio_net_hdr right
   * before it, and may be a TCP or UDP super-packet (GSO) or carry a partial checksum.
   */
  readonly vnet: boolean;
  /** The read filled the whole batch: more was waiting in the TUN's queue (the daemon is behind). */
  backlog?: boolean;
}

/** A batch received on an underlay socket. */
export interface DatagramBatch extends PacketBatch {
  /** Source address (IPv4, host order; 0 for an IPv6 source) and UDP port (0 on raw ESP) per datagram. */
  readonly addr: Uint32Array;
  /** IPv6 sources, 16 network-order bytes per datagram (i at i * 16) where addr[i] is 0; null on an IPv4 socket. */
  readonly addr6: Uint8Array | null;
  readonly port: Uint16Array;
  /** Outer TOS byte per datagram, -1 when the socket could not tell. */
  readonly tos: Int16Array;
  /**
   * UDP GRO: datagram i holds back-to-back datagrams of gso[i] bytes each (the last may be
   * shorter), all from the same source; 0 means it is one datagram. Null when never coalesced.
   */
  readonly gso: Uint16Array | null;
}

/** What a device or socket runs with, for `show links`. */
export interface IoPath {
  /** TUN: IFF_VNET_HDR with TSO/checksum offloads (and USO when `uso`). */
  tunOffload: boolean;
  uso: boolean;
  /** Underlay: UDP GSO sends and UDP GRO receives. */
  udpGso: boolean;
  udpGro: boolean;
}

export interface TunDevice {
  readonly name: string;
  readonly ifindex: number;
  /** Start delivering batches of packets read from the TUN (IFF_NO_PI: raw IP packets). */
  onPackets(cb: (pkts: Buffer[]) => void): void;
  /**
   * The data plane's reader: batches in one buffer, no object per packet. Replaces an
   * onPackets callback (one reader per device). Devices without it are read with onPackets.
   */
  onBatch?(cb: (b: TunBatch) => void): void;
  /**
   * Write packets to the TUN. Synchronous, non-blocking: returns how many were written. A
   * packet the kernel refuses (EIO on a down link, EAGAIN) is skipped, not retried.
   */
  write(pkts: Buffer[]): number;
  /**
   * write() for packets in one buffer: `count` packets at off/len in `buf`. With offloads the
   * device coalesces TCP segments of one flow into super-packets (GRO). Returns packets written.
   */
  writeBatch?(buf: Buffer, off: Int32Array, len: Int32Array, count: number): number;
  /** The kernel's drops at this device (tx: the TUN queue overflowed before we read; rx: refused writes). */
  kernelDrops?(): { tx: number; rx: number } | null;
  /** Offloads in use; absent on devices without any. */
  readonly path?: Pick<IoPath, 'tunOffload' | 'uso'>;
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
  /** The data plane's reader: datagrams in one buffer. Replaces an onDatagrams callback. */
  onBatch?(cb: (b: DatagramBatch) => void): void;
  /**
   * send() for datagrams in one buffer, all to one peer: `count` datagrams at off/len in `buf`
   * with outer TOS tos[i]. Runs of equal-sized datagrams leave as one UDP GSO send where the
   * kernel supports it. Returns how many the kernel accepted.
   */
  sendBatch?(buf: Buffer, off: Int32Array, len: Int32Array, tos: Uint8Array, count: number, addr: IpAddr, port: number): number;
  /** Offloads in use; absent on sockets without any. */
  readonly path?: Pick<IoPath, 'udpGso' | 'udpGro'>;
  close(): void;
}

/**
 * Native batch ESP crypto (io/esp-native.ts over the addon's OpenSSL AEAD). The data plane
 * uses its JS engine when none is handed in; both follow dataplane/esp-batch.ts's contract.
 */
export interface EspCrypto {
  /** The send path may install the native outbound fast path (dataplane/fast-state.ts) on real TUNs. */
  readonly fastPath?: boolean;
  /** One AEAD context for an SA: suite 0 aes-gcm-128, 1 aes-gcm-256, 2 chacha20-poly1305. */
  newSa(suite: number, key: Buffer, salt: Buffer, encrypt: boolean): object;
  seal(
    sa: object, inBuf: Buffer, inOff: Int32Array, inLen: Int32Array, status: Int32Array, start: number, end: number,
    out: Buffer, outOff: Int32Array, outLen: Int32Array, outTos: Uint8Array, ctl: Uint32Array,
  ): number;
  open(
    sa: object, buf: Buffer, off: Int32Array, len: Int32Array, seqHi: Uint32Array | null, start: number, end: number,
    result: Int32Array, nextHeader: Uint8Array, spi: number, esn: boolean,
  ): number;
}
