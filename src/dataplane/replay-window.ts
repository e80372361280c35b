// Anti-replay window, RFC 4303 §3.4.3 and Appendix A, with the bitmap kept as a ring of 32-bit
// words as in RFC 6479: sliding the window right clears whole words instead of shifting bits,
// so the cost of an advance does not depend on the window size.
//
// The ring has one word more than the window needs. Without it, the word holding `top` and the
// word holding the window's oldest sequence number could be the same ring slot, and clearing
// the slot on advance would forget packets that are still inside the window.
//
// Sequence numbers are JS numbers. With ESN that caps us at 2^53, which at 10 Mpps is ~28 years
// of traffic on one SA; anything that would infer beyond it is treated as not acceptable.

import { IiptranError } from '../errors.js';

export const DEFAULT_REPLAY_WINDOW = 1024;
export const MIN_REPLAY_WINDOW = 64;
export const MAX_REPLAY_WINDOW = 65536;

const TWO32 = 0x1_0000_0000;

export class ReplayWindow {
  #size: number;
  readonly #esn: boolean;
  #bits: Uint32Array;
  /**
   * Highest authenticated sequence number seen; 0 until the first accept (0 is never valid). In
   * an array of its own so that the addon's inbound fast path reads and moves the same number.
   */
  readonly #topCell = new Float64Array(1);

  constructor(size = DEFAULT_REPLAY_WINDOW, esn = false) {
    if (!Number.isInteger(size) || size < MIN_REPLAY_WINDOW || size > MAX_REPLAY_WINDOW || size % 32 !== 0) {
      throw new IiptranError(
        'IIPTRAN_ERR_CONFIG',
        `replay window ${size} is invalid: must be a multiple of 32 between ${MIN_REPLAY_WINDOW} and ${MAX_REPLAY_WINDOW}`,
        { field: 'replay_window' },
      );
    }
    this.#size = size;
    this.#esn = esn;
    this.#bits = new Uint32Array(size / 32 + 1);
  }

  get size(): number {
    return this.#size;
  }

  get top(): number {
    return this.#topCell[0]!;
  }

  /**
   * The window's memory, for the addon's inbound fast path (dataplane/fast-state.ts): valid
   * until resize(), which only a reload calls, and a reload turns the fast path off first.
   */
  get shared(): { top: Float64Array; bits: Uint32Array } {
    return { top: this.#topCell, bits: this.#bits };
  }

  get esn(): boolean {
    return this.#esn;
  }

  /**
   * Maps the 32 bits on the wire to a full sequence number and says whether it may be accepted.
   * Returns the full number, or -1 for a replay, a packet left of the window, or one that can
   * never be valid (seq 0, or ESN inference landing below the start of the sequence space).
   * Pure: the caller still has to verify the ICV, and a forged packet must not move anything.
   */
  check(seqLow: number): number {
    const seq = this.#esn ? this.#infer(seqLow >>> 0) : seqLow >>> 0;
    if (seq <= 0 || seq > Number.MAX_SAFE_INTEGER) return -1;
    const top = this.#topCell[0]!;
    if (seq > top) return seq;
    if (seq + this.#size <= top) return -1;
    return this.#bitSet(seq) ? -1 : seq;
  }

  /**
   * Records an authenticated sequence number (the value check() returned). Advancing clears only
   * the ring words between the old and new top; a jump of a whole window or more clears all.
   */
  accept(seq: number): void {
    const top = this.#topCell[0]!;
    if (seq > top) {
      const words = this.#bits.length;
      const oldBlock = Math.floor(top / 32);
      const newBlock = Math.floor(seq / 32);
      const diff = newBlock - oldBlock;
      if (diff >= words) {
        this.#bits.fill(0);
      } else {
        for (let b = oldBlock + 1; b <= newBlock; b++) this.#bits[b % words] = 0;
      }
      this.#topCell[0] = seq;
    } else if (seq + this.#size <= top) {
      // Left of the window: check() would have refused it; nothing to record.
      return;
    }
    this.#bits[Math.floor(seq / 32) % this.#bits.length] |= 1 << (seq % 32);
  }

  /**
   * A reload changed replay_window on a live SA. Starting a fresh window would accept every
   * packet already delivered once more, so the history moves over: what the old window saw
   * stays seen, and sequence numbers a larger window now covers but the old one had already
   * refused as too old count as seen too.
   */
  resize(size: number): void {
    if (size === this.#size) return;
    const next = new ReplayWindow(size, this.#esn);
    const top = this.#topCell[0]!;
    if (top > 0) {
      const bits = next.#bits;
      const mark = (seq: number) => (bits[Math.floor(seq / 32) % bits.length]! |= 1 << (seq % 32));
      const from = Math.max(1, top - size + 1);
      const oldFloor = top - this.#size;
      for (let seq = from; seq <= top; seq++) if (seq <= oldFloor || this.#bitSet(seq)) mark(seq);
    }
    this.#size = size;
    this.#bits = next.#bits;
  }

  #bitSet(seq: number): boolean {
    return (this.#bits[Math.floor(seq / 32) % this.#bits.length]! & (1 << (seq % 32))) !== 0;
  }

  /**
   * RFC 4303 Appendix A2.2: pick the high half that puts `seqLow` closest to the window. Case A
   * is a window lying inside one 2^32 block; in case B it straddles a block boundary, so a large
   * seqLow belongs to the previous block.
   */
  #infer(seqLow: number): number {
    const top = this.#topCell[0]!;
    const w = this.#size;
    const tl = top % TWO32;
    const th = Math.floor(top / TWO32);
    let hi: number;
    if (tl >= w - 1) {
      // Bottom of the window, tl - w + 1, is in the same block as top.
      hi = seqLow >= tl - w + 1 ? th : th + 1;
    } else {
      // Bottom wrapped into the previous block.
      hi = seqLow >= tl - w + 1 + TWO32 ? th - 1 : th;
    }
    if (hi < 0) return -1;
    return hi * TWO32 + seqLow;
  }
}
