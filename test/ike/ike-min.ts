// Just enough IKEv2 parsing for the known-answer tests to take nonces, KE data, SPIs, IDs and
// AUTH out of captured messages. Deliberately independent of src/wire/ike (another codec may
// disagree with this one, and then one of the two is wrong). Throws on anything unexpected:
// the input is a fixed capture, not network data.

export const PT_SA = 33;
export const PT_KE = 34;
export const PT_IDI = 35;
export const PT_IDR = 36;
export const PT_AUTH = 39;
export const PT_NONCE = 40;
export const PT_NOTIFY = 41;
export const PT_SK = 46;

export interface Header {
  spiI: Buffer;
  spiR: Buffer;
  firstPayload: number;
  exchange: number;
  flags: number;
  messageId: number;
  length: number;
}

export interface Payload {
  type: number;
  /** Offset of the generic payload header within the buffer walked. */
  offset: number;
  body: Buffer;
  /** For the SK payload: the type of the first encrypted payload. */
  innerFirst?: number;
}

export function header(msg: Buffer): Header {
  if (msg.length < 28 || msg[17] !== 0x20) throw new Error('not an IKEv2 message');
  const h = {
    spiI: msg.subarray(0, 8), spiR: msg.subarray(8, 16), firstPayload: msg[16]!, exchange: msg[18]!, flags: msg[19]!,
    messageId: msg.readUInt32BE(20), length: msg.readUInt32BE(24),
  };
  if (h.length !== msg.length) throw new Error(`IKE length ${h.length} != datagram ${msg.length}`);
  return h;
}

/** Walks a payload chain; the SK payload, when present, is last (RFC 7296 §3.14). */
export function payloads(buf: Buffer, first: number, start = 0): Payload[] {
  const out: Payload[] = [];
  let type = first;
  let o = start;
  while (type !== 0) {
    const next = buf[o]!;
    const len = buf.readUInt16BE(o + 2);
    if (len < 4 || o + len > buf.length) throw new Error(`bad payload length ${len} at ${o}`);
    const p: Payload = { type, offset: o, body: buf.subarray(o + 4, o + len) };
    // The SK payload's Next Payload names the first inner payload, not a following one.
    if (type === PT_SK) p.innerFirst = next;
    out.push(p);
    o += len;
    type = type === PT_SK ? 0 : next;
  }
  if (o !== buf.length) throw new Error(`${buf.length - o} trailing bytes after the payload chain`);
  return out;
}

export function find(ps: Payload[], type: number): Payload {
  const p = ps.find((x) => x.type === type);
  if (!p) throw new Error(`payload ${type} missing`);
  return p;
}

export interface Transform {
  type: number;
  id: number;
  keyLenBits: number | null;
}

export interface Proposal {
  protocol: number;
  spi: Buffer;
  transforms: Transform[];
}

/** SA payload body → proposals; only the Key Length attribute (14) is understood. */
export function proposals(sa: Buffer): Proposal[] {
  const out: Proposal[] = [];
  let o = 0;
  for (;;) {
    const last = sa[o] === 0;
    const len = sa.readUInt16BE(o + 2);
    const protocol = sa[o + 5]!;
    const spiSize = sa[o + 6]!;
    const n = sa[o + 7]!;
    const spi = sa.subarray(o + 8, o + 8 + spiSize);
    let t = o + 8 + spiSize;
    const transforms: Transform[] = [];
    for (let i = 0; i < n; i++) {
      const tlen = sa.readUInt16BE(t + 2);
      const type = sa[t + 4]!;
      const id = sa.readUInt16BE(t + 6);
      let keyLenBits: number | null = null;
      for (let a = t + 8; a < t + tlen;) {
        const at = sa.readUInt16BE(a);
        if (at & 0x8000) {
          if ((at & 0x7fff) === 14) keyLenBits = sa.readUInt16BE(a + 2);
          a += 4;
        } else {
          a += 4 + sa.readUInt16BE(a + 2);
        }
      }
      transforms.push({ type, id, keyLenBits });
      t += tlen;
    }
    out.push({ protocol, spi, transforms });
    o += len;
    if (last) break;
  }
  return out;
}

/** Transform of a type in a proposal (first one), or null. */
export function transform(p: Proposal, type: number): Transform | null {
  return p.transforms.find((t) => t.type === type) ?? null;
}
