// DHCP options (RFC 2132): code(1) | length(1) | data, except PAD (0) and END (255), which are one
// byte. The list keeps every option in wire order, PADs and unknown codes included, so decode
// followed by encode gives back the same bytes. Option 82 (RFC 3046) nests the same TLV shape
// for its sub-options, which get their own codec here.

import { CodecError } from '../../errors.js';
import { Opt } from './constants.js';
import { DhcpMalformed } from './reason.js';

export interface DhcpOption {
  code: number;
  /** Empty for PAD. A view into the decoded buffer: copy it to keep it past the buffer's life. */
  data: Buffer;
}

export interface RelaySubOption {
  code: number;
  data: Buffer;
}

/** Lengths the design's options must have; a packet breaking one is refused, not half-read. */
function lengthProblem(code: number, len: number): string | null {
  switch (code) {
    case Opt.SUBNET_MASK:
    case Opt.REQUESTED_IP:
    case Opt.LEASE_TIME:
    case Opt.SERVER_ID:
    case Opt.RENEWAL_TIME:
    case Opt.REBINDING_TIME:
      return len === 4 ? null : `option ${code} must be 4 bytes, is ${len}`;
    case Opt.ROUTER:
    case Opt.DNS:
      return len >= 4 && len % 4 === 0 ? null : `option ${code} must be a non-empty list of addresses, is ${len} bytes`;
    case Opt.MESSAGE_TYPE:
    case Opt.OVERLOAD:
      return len === 1 ? null : `option ${code} must be 1 byte, is ${len}`;
    case Opt.MAX_MESSAGE_SIZE:
      return len === 2 ? null : `option 57 must be 2 bytes, is ${len}`;
    case Opt.HOSTNAME:
    case Opt.PARAM_REQUEST_LIST:
      return len >= 1 ? null : `option ${code} must not be empty`;
    case Opt.CLIENT_ID:
      return len >= 2 ? null : `option 61 needs a type and at least one byte, is ${len}`;
    case Opt.RELAY_AGENT_INFO:
      return len >= 2 ? null : `option 82 needs at least one sub-option, is ${len} bytes`;
    default:
      return null;
  }
}

/**
 * Options from buf[start..end). `needEnd`: the main options field must close with END (RFC 2131
 * §4.1); sname and file under overload may simply run out (RFC 2131 leaves it to padding).
 * Stops at END; whatever follows END is the caller's trailer.
 */
export function decodeOptions(buf: Buffer, start: number, end: number, needEnd: boolean): { options: DhcpOption[]; endAt: number } | DhcpMalformed {
  const options: DhcpOption[] = [];
  let i = start;
  while (i < end) {
    const code = buf[i]!;
    if (code === Opt.END) return { options, endAt: i + 1 };
    if (code === Opt.PAD) {
      options.push({ code, data: buf.subarray(i, i) });
      i++;
      continue;
    }
    if (i + 1 >= end) return new DhcpMalformed('option-overrun', `option ${code} at ${i} has no length byte`);
    const len = buf[i + 1]!;
    if (i + 2 + len > end) return new DhcpMalformed('option-overrun', `option ${code} at ${i} claims ${len} bytes, ${end - i - 2} remain`);
    const problem = lengthProblem(code, len);
    if (problem !== null) return new DhcpMalformed('bad-option-length', problem);
    const data = buf.subarray(i + 2, i + 2 + len);
    if (code === Opt.RELAY_AGENT_INFO) {
      const subs = decodeRelayAgentInfo(data);
      if (subs instanceof DhcpMalformed) return subs;
    }
    options.push({ code, data });
    i += 2 + len;
  }
  if (needEnd) return new DhcpMalformed('missing-end', `no END option before byte ${end}`);
  return { options, endAt: end };
}

function checkOption(o: DhcpOption): void {
  if (!Number.isInteger(o.code) || o.code < 0 || o.code > 254) throw new CodecError(`dhcp option code ${o.code} out of range 0..254 (END is implicit)`);
  if (o.code === Opt.PAD) {
    if (o.data.length !== 0) throw new CodecError('dhcp PAD option carries no data');
    return;
  }
  if (o.data.length > 255) throw new CodecError(`dhcp option ${o.code} too long: ${o.data.length} > 255 (split it, RFC 3396)`);
  const problem = lengthProblem(o.code, o.data.length);
  if (problem !== null) throw new CodecError(`dhcp ${problem}`);
}

/** Bytes the options take, END included. */
export function optionsLength(options: readonly DhcpOption[]): number {
  let n = 1;
  for (const o of options) n += o.code === Opt.PAD ? 1 : 2 + o.data.length;
  return n;
}

/** Writes the options and END at buf[offset..]; returns the offset after END. */
export function encodeOptions(options: readonly DhcpOption[], buf: Buffer, offset: number): number {
  let i = offset;
  for (const o of options) {
    checkOption(o);
    buf[i++] = o.code;
    if (o.code === Opt.PAD) continue;
    buf[i++] = o.data.length;
    o.data.copy(buf, i);
    i += o.data.length;
  }
  buf[i++] = Opt.END;
  return i;
}

/** Sub-options of option 82; any overrun or empty field is refused. */
export function decodeRelayAgentInfo(data: Buffer): RelaySubOption[] | DhcpMalformed {
  const subs: RelaySubOption[] = [];
  let i = 0;
  while (i < data.length) {
    if (i + 1 >= data.length) return new DhcpMalformed('bad-relay-agent-info', `sub-option ${data[i]} at ${i} has no length byte`);
    const len = data[i + 1]!;
    if (i + 2 + len > data.length) return new DhcpMalformed('bad-relay-agent-info', `sub-option ${data[i]} at ${i} claims ${len} bytes, ${data.length - i - 2} remain`);
    subs.push({ code: data[i]!, data: data.subarray(i + 2, i + 2 + len) });
    i += 2 + len;
  }
  return subs;
}

export function encodeRelayAgentInfo(subs: readonly RelaySubOption[]): Buffer {
  let n = 0;
  for (const s of subs) {
    if (!Number.isInteger(s.code) || s.code < 0 || s.code > 255) throw new CodecError(`option 82 sub-option code ${s.code} out of range`);
    if (s.data.length > 255) throw new CodecError(`option 82 sub-option ${s.code} too long: ${s.data.length}`);
    n += 2 + s.data.length;
  }
  if (n === 0 || n > 255) throw new CodecError(`option 82 must hold 2..255 bytes of sub-options, has ${n}`);
  const out = Buffer.alloc(n);
  let i = 0;
  for (const s of subs) {
    out[i++] = s.code;
    out[i++] = s.data.length;
    s.data.copy(out, i);
    i += s.data.length;
  }
  return out;
}
