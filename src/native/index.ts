// Typed loader for build/Release/iiptran_native.node. Loading is lazy so that code which only
// uses the fakes (unit tests without root or without a compiler) never needs the addon.
//
// Address convention of the addon: IPv4 addresses are uint32 in HOST byte order
// (10.0.0.1 === 0x0a000001), i.e. exactly `IpAddr.v4` (src/wire/addr.ts); ports are plain
// numbers. The TS side (io/udp-underlay.ts) converts at this boundary, per batch slot, with no
// text in between. IPv6 sockets (sock6.c) take 16-byte address arrays beside these: sendBatch6's
// `addrs` and the Reader's `addrs6`.
//
// The C side is split by concern under src/native/ (addon.h lists the files). Its daemon
// surface is NativeAddon; the interface ioctls only tests need sit apart, under NativeTestOnly.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { markAsUntransferable } from 'node:worker_threads';
import { IiptranError, NativeError } from '../errors.js';
import { parseIpv4, u32ToIpv4 as formatU32 } from '../wire/addr.js';

export type ReaderMode = 'read' | 'recvmmsg';

/**
 * Free bytes in front of every packet a 'read'-mode (TUN) Reader delivers, so the data plane can
 * build ESP in place (ESP header and IV before the payload, a UDP/NAT-T header if ever needed)
 * without copying it. Equal to READ_HEADROOM in src/native/addon.h; loadNative refuses an addon
 * built with another value.
 */
export const READ_HEADROOM = 64;

/**
 * Batched reader on the Node event loop. `callback(count)` gets the number of packets now in
 * slots 0..count-1, or a negative errno for a receive error. Packet i starts at byte
 * `i * stride + headroom` of `data` and is `lengths[i]` bytes long (-1 when the datagram was
 * truncated); up to `slotSize` bytes fit. The views are overwritten by the next batch.
 */
export interface NativeReader {
  readonly fd: number;
  /** Largest packet a slot holds. */
  readonly slotSize: number;
  readonly batchSize: number;
  /** Free bytes before each packet: READ_HEADROOM in 'read' mode, 0 in 'recvmmsg' mode. */
  readonly headroom: number;
  /** Bytes from one slot to the next: headroom + slotSize. */
  readonly stride: number;
  readonly data: ArrayBuffer;
  readonly lengths: Int32Array;
  /** Source addresses, host byte order; null in 'read' mode. */
  readonly addrs: Uint32Array | null;
  /** Source ports; null in 'read' mode. */
  readonly ports: Uint16Array | null;
  /**
   * Outer IPv4 TOS byte (DSCP << 2 | ECN) of each datagram, from the IP_TOS control message
   * (udpOpen enables IP_RECVTOS); -1 when none came with it, e.g. on a raw socket, whose
   * datagrams carry the IPv4 header in `data` instead. Null in 'read' mode.
   */
  readonly tos: Int16Array | null;
  /**
   * UDP GRO segment size of each datagram (the socket has UDP_GRO on): datagram i is then
   * several back-to-back datagrams of gso[i] bytes, the last possibly shorter; 0 when it is one.
   * Null in 'read' mode.
   */
  readonly gso: Uint16Array | null;
  /**
   * Source addresses of IPv6 datagrams, 16 network-order bytes per slot (slot i at i * 16);
   * `addrs[i]` is 0 for those. Only an IPv6 socket (udp6Open, raw6Open) fills it. Null in 'read'
   * mode. The traffic class of an IPv6 datagram arrives in `tos` (IPV6_RECVTCLASS).
   */
  readonly addrs6: Uint8Array | null;
  /** Stop polling. Idempotent; the fd stays open (closeFd it afterwards). */
  close(): void;
  /** Whether this reader keeps the event loop alive (default true while open). */
  ref(): void;
  unref(): void;
  /** False once closed, or after a fatal poll error (e.g. the TUN device was deleted). */
  isActive(): boolean;
}

export interface NativeReaderCtor {
  /**
   * `arena`, when given, is the packet memory instead of a fresh one ((headroom + slotSize) *
   * batchSize bytes at least): readers whose batches are always consumed within their callback
   * may share one (a node's TUNs), since the loop never reads two fds at once.
   */
  new (fd: number, mode: ReaderMode, slotSize: number, batchSize: number, cb: (count: number) => void, arena?: ArrayBuffer): NativeReader;
}

export interface TunOpenResult {
  fd: number;
  /** Name the kernel gave the device (differs from the request only with a %d pattern). */
  name: string;
  ifindex: number;
  /** Opened with IFF_VNET_HDR and offloads: every packet carries a virtio_net_hdr both ways. */
  vnet: boolean;
  /** TUN_F_* flags in force (TUN_F_CSUM 1, TSO4 2, USO4 0x20, USO6 0x40); 0 without offloads. */
  offloads: number;
}

/** TUNSETOFFLOAD flags (linux/if_tun.h). */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_USO4 = 0x20;

/** Flags of sendSeg and tunWrite. */
export const SEG_F_GSO = 1;
export const TW_VNET = 1;
export const TW_GRO = 2;

export interface SockName {
  /** Host byte order. */
  addr: number;
  port: number;
}

/** The addon's surface. Setup calls throw NativeError; batch calls only throw on bad arguments. */
export interface NativeAddon {
  /** With `offload`, IFF_VNET_HDR and the best TUNSETOFFLOAD the kernel accepts (see TunOpenResult). */
  tunOpen(name: string, offload?: boolean): TunOpenResult;
  tunSetCarrier(fd: number, on: boolean): void;
  /** SIOCGIFMTU on any interface (read-only; `iiptran doctor` uses it as a real system call). */
  ifGetMtu(name: string): number;
  /** UDP socket bound to addr:port (port 0 = kernel's choice), DF set, IP_RECVTOS on; returns the fd. */
  udpOpen(addr: string | number, port: number): number;
  /** Raw IPv4 socket for `proto` bound to addr; received datagrams include the IPv4 header. */
  rawOpen(proto: number, addr: string | number): number;
  sockName(fd: number): SockName;
  closeFd(fd: number): void;
  /** write() each buffer; returns how many were written. status[0] = last errno, 0 if none. */
  writeBatch(fd: number, bufs: readonly Uint8Array[], count: number, status?: Int32Array): number;
  /**
   * sendmmsg(); returns how many the kernel accepted. status[0] = last errno, 0 if none.
   * `tos[i]`, when given, is datagram i's outer IPv4 TOS byte (an IP_TOS control message for
   * that datagram alone; 0 sends none, leaving the socket default of 0). Either family: a
   * Uint32Array of host-order IPv4 addresses, or for an IPv6 socket a Uint8Array of 16 bytes per
   * datagram, `tos` then being the traffic class (batch.c; sendBatch6 is this call for IPv6).
   */
  sendBatch(
    fd: number,
    bufs: readonly Uint8Array[],
    addrs: Uint32Array | Uint8Array,
    ports: Uint16Array | Int32Array | Uint32Array,
    count: number,
    status?: Int32Array | null,
    tos?: Uint8Array,
  ): number;
  /** Whether the kernel does UDP GSO on this UDP socket, and turns UDP GRO on when asked (result: on or not). */
  udpOffload(fd: number, gro: boolean): { gso: boolean; gro: boolean };
  /**
   * Datagrams at off/len in `buf`, all to addr:port (a host-order IPv4 address, or 16 IPv6
   * bytes on an IPv6 socket): runs of equal-sized,
   * back-to-back datagrams with one TOS as one UDP GSO send when `flags` has SEG_F_GSO, the rest
   * by sendmmsg. Returns how many were accepted; status[0] = last errno, status[1] = 1 when the
   * kernel refused GSO (the run went out one by one).
   */
  sendSeg(
    fd: number, buf: Buffer, off: Int32Array, len: Int32Array, tos: Uint8Array, count: number, addr: number | Uint8Array,
    port: number, flags: number, status: Int32Array,
  ): number;
  /**
   * Packets at off/len in `buf` into a TUN; TW_VNET prepends a virtio_net_hdr, TW_GRO also
   * coalesces TCP segments of one flow. Returns packets written; status[0] = last errno,
   * status[1] = 1 when the kernel refused a coalesced packet (GRO is then off for the batch).
   */
  tunWrite(fd: number, buf: Buffer, off: Int32Array, len: Int32Array, count: number, flags: number, status: Int32Array): number;
  /** Replace this process (same pid) with `argv` run by this node binary; returns only by throwing. */
  execSelf(argv: string[]): never;
  /**
   * Installs the outbound fast path on a TUN reader (src/native/fastpath.c), or removes it
   * with null cells. The cell layouts are dataplane/fast-state.ts's.
   */
  fastOutSet(reader: NativeReader, vlinkCells: Float64Array | null, saCells: Float64Array | null, sa: object | null): void;
  /** The inbound half on a socket reader (src/native/fastpath_in.c). */
  fastInSet(
    reader: NativeReader, spi: number, vlinkCells: Float64Array | null, saCells: Float64Array | null,
    top: Float64Array | null, bits: Uint32Array | null, size: number, sa: object | null,
  ): void;
  /** An AEAD context for one SA (suite 0 aes-gcm-128, 1 aes-gcm-256, 2 chacha20-poly1305). */
  espSaNew(suite: number, key: Buffer, salt: Buffer, encrypt: boolean): object;
  /** Batch seal; see src/native/esp_seal.c and dataplane/esp-batch.ts. */
  espSeal(
    sa: object, inBuf: Buffer, inOff: Int32Array, inLen: Int32Array, status: Int32Array, start: number, end: number,
    out: Buffer, outOff: Int32Array, outLen: Int32Array, outTos: Uint8Array, ctl: Uint32Array,
  ): number;
  /** Batch open in place; see src/native/esp_open.c. */
  espOpen(
    sa: object, buf: Buffer, off: Int32Array, len: Int32Array, seqHi: Uint32Array | null, start: number, end: number,
    result: Int32Array, nextHeader: Uint8Array, spi: number, esn: boolean,
  ): number;
  /** IPv6 (sock6.c): a UDP socket bound to [addr]:port, IPv6 only, IPV6_PMTUDISC_PROBE, IPV6_RECVTCLASS on. */
  udp6Open(addr: string, port: number): number;
  /** IPv6 raw socket for `proto` bound to addr; received datagrams do NOT include the IPv6 header. */
  raw6Open(proto: number, addr: string): number;
  sockName6(fd: number): { addr: string; port: number };
  /** sendBatch for an IPv6 socket, refusing anything but 16-byte addresses: `addrs` holds 16 bytes per datagram, `tclass[i]` its traffic class (0: none set). */
  sendBatch6(
    fd: number,
    bufs: readonly Uint8Array[],
    addrs: Uint8Array,
    ports: Uint16Array,
    count: number,
    status?: Int32Array | null,
    tclass?: Uint8Array,
  ): number;
  Reader: NativeReaderCtor;
}

/**
 * Test-only export (`testOnly` on the addon): interface ioctls no code in src/ may call. The
 * daemon sets MTU and IFF_UP over rtnetlink (src/io/netsys.ts); the TUN tests use these to
 * drive a device without a netlink client. Same error rules as NativeAddon.
 */
export interface NativeTestOnly {
  /** SIOCSIFMTU on any interface. */
  ifSetMtu(name: string, mtu: number): void;
  /** Set or clear IFF_UP on any interface. */
  ifSetUp(name: string, up: boolean): void;
  /**
   * tunWrite without a TUN: returns the writes it would make as (u32 host-order length, bytes)
   * records, virtio_net_hdr included with TW_VNET, so the coalescing can be tested without root.
   */
  tunWriteCapture(buf: Buffer, off: Int32Array, len: Int32Array, count: number, flags: number): Buffer;
}

interface RawAddon extends NativeAddon {
  READ_HEADROOM: number;
  testOnly: NativeTestOnly;
}

const ADDON_FILE = join('build', 'Release', 'iiptran_native.node');
let cached: { addon: NativeAddon; testOnly: NativeTestOnly } | undefined;

// The compiled loader lives at dist/src/native, the source at src/native: walk up to the
// package root rather than hard-coding either depth.
function findAddon(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, ADDON_FILE);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

function isErrnoError(e: unknown): e is Error & { errno: number; syscall?: string } {
  return e instanceof Error && typeof (e as { errno?: unknown }).errno === 'number';
}

/** Rethrow an addon error as NativeError; TypeError/RangeError (caller bugs) pass through. */
export function toNativeError(op: string, e: unknown): unknown {
  if (isErrnoError(e)) return new NativeError(op, e.errno, e.message);
  return e;
}

function guarded<A extends unknown[], R>(op: string, fn: (...a: A) => R): (...a: A) => R {
  return (...a: A): R => {
    try {
      return fn(...a);
    } catch (e) {
      throw toNativeError(op, e);
    }
  };
}

function wrap(raw: RawAddon): NativeAddon {
  const RawReader = raw.Reader;
  // A transferred ArrayBuffer would leave the addon writing into memory another thread owns.
  const Reader = function Reader(
    fd: number,
    mode: ReaderMode,
    slotSize: number,
    batchSize: number,
    cb: (count: number) => void,
    arena?: ArrayBuffer,
  ): NativeReader {
    let r: NativeReader;
    try {
      r = new RawReader(fd, mode, slotSize, batchSize, cb, arena);
    } catch (e) {
      throw toNativeError('Reader', e);
    }
    markAsUntransferable(r.data);
    return r;
  } as unknown as NativeReaderCtor;
  return {
    tunOpen: guarded('tunOpen', raw.tunOpen),
    tunSetCarrier: guarded('tunSetCarrier', raw.tunSetCarrier),
    ifGetMtu: guarded('ifGetMtu', raw.ifGetMtu),
    udpOpen: guarded('udpOpen', raw.udpOpen),
    rawOpen: guarded('rawOpen', raw.rawOpen),
    sockName: guarded('sockName', raw.sockName),
    closeFd: guarded('closeFd', raw.closeFd),
    fastOutSet: guarded('fastOutSet', raw.fastOutSet),
    fastInSet: guarded('fastInSet', raw.fastInSet),
    udpOffload: guarded('udpOffload', raw.udpOffload),
    espSaNew: guarded('espSaNew', raw.espSaNew),
    execSelf: guarded('execSelf', raw.execSelf),
    // Hot path: no wrapper; these never throw for kernel errors.
    writeBatch: raw.writeBatch,
    sendBatch: raw.sendBatch,
    sendSeg: raw.sendSeg,
    tunWrite: raw.tunWrite,
    espSeal: raw.espSeal,
    espOpen: raw.espOpen,
    udp6Open: guarded('udp6Open', raw.udp6Open),
    raw6Open: guarded('raw6Open', raw.raw6Open),
    sockName6: guarded('sockName6', raw.sockName6),
    sendBatch6: raw.sendBatch6,
    Reader,
  };
}

function wrapTestOnly(raw: NativeTestOnly): NativeTestOnly {
  return {
    ifSetMtu: guarded('ifSetMtu', raw.ifSetMtu),
    ifSetUp: guarded('ifSetUp', raw.ifSetUp),
    tunWriteCapture: raw.tunWriteCapture,
  };
}

/**
 * Load the addon once. Throws IiptranError IIPTRAN_ERR_NATIVE when it was never built, or was
 * built from sources that disagree with this loader (another READ_HEADROOM).
 */
export function loadNative(): NativeAddon {
  return load().addon;
}

/** The test-only export (see NativeTestOnly). For tests; src/ must not call it. */
export function loadNativeTestOnly(): NativeTestOnly {
  return load().testOnly;
}

function load(): { addon: NativeAddon; testOnly: NativeTestOnly } {
  if (cached) return cached;
  const path = findAddon();
  if (path === undefined) {
    throw new IiptranError('IIPTRAN_ERR_NATIVE', 'native addon not built: run npm install (needs g++ and python3)');
  }
  const require = createRequire(import.meta.url);
  let raw: RawAddon;
  try {
    raw = require(path) as RawAddon;
  } catch (e) {
    throw new IiptranError('IIPTRAN_ERR_NATIVE', `native addon ${path} failed to load: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (raw.READ_HEADROOM !== READ_HEADROOM) {
    throw new IiptranError(
      'IIPTRAN_ERR_NATIVE',
      `native addon ${path} has READ_HEADROOM ${String(raw.READ_HEADROOM)}, this build expects ${READ_HEADROOM}: rebuild it (npm install)`,
    );
  }
  cached = { addon: wrap(raw), testOnly: wrapTestOnly(raw.testOnly) };
  return cached;
}

/**
 * Dotted IPv4 to the addon's host-order uint32, or -1 when `s` is not a strict dotted quad.
 * The one parser is wire/addr's; the data plane itself hands the addon `IpAddr.v4` numbers
 * and never converts text per packet.
 */
export function ipv4ToU32(s: string): number {
  return parseIpv4(s) ?? -1;
}

/** Host-order uint32 to dotted IPv4. */
export function u32ToIpv4(v: number): string {
  return formatU32(v >>> 0);
}
