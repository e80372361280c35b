// Typed reads and edits of a DhcpRepr's options. decode already checked the lengths of the
// options read here (options.ts), so a present option always has the expected shape.

import { Opt } from './constants.js';
import { decodeRelayAgentInfo, type DhcpOption, type RelaySubOption } from './options.js';
import { DhcpMalformed } from './reason.js';
import type { DhcpRepr } from './message.js';

/** First instance of `code`: the main options field, then any overloaded file/sname options. */
export function optionData(r: DhcpRepr, code: number): Buffer | undefined {
  for (const o of r.options) if (o.code === code) return o.data;
  if (r.overloadOptions !== undefined) for (const o of r.overloadOptions) if (o.code === code) return o.data;
  return undefined;
}

export function messageType(r: DhcpRepr): number | undefined {
  return optionData(r, Opt.MESSAGE_TYPE)?.[0];
}

/** A 4-byte option as a u32 (addresses and times alike); undefined when absent or not 4 bytes. */
export function u32Option(r: DhcpRepr, code: number): number | undefined {
  const d = optionData(r, code);
  return d !== undefined && d.length === 4 ? d.readUInt32BE(0) : undefined;
}

export function ipListOption(r: DhcpRepr, code: number): number[] {
  const d = optionData(r, code);
  const out: number[] = [];
  if (d !== undefined) for (let i = 0; i + 4 <= d.length; i += 4) out.push(d.readUInt32BE(i));
  return out;
}

export function relayAgentInfo(r: DhcpRepr): RelaySubOption[] | undefined {
  const d = optionData(r, Opt.RELAY_AGENT_INFO);
  if (d === undefined) return undefined;
  const subs = decodeRelayAgentInfo(d);
  return subs instanceof DhcpMalformed ? undefined : subs;
}

export function subOption(subs: readonly RelaySubOption[] | undefined, code: number): Buffer | undefined {
  return subs?.find((s) => s.code === code)?.data;
}

/** The options with every instance of `code` removed. */
export function withoutOption(options: readonly DhcpOption[], code: number): DhcpOption[] {
  return options.filter((o) => o.code !== code);
}

/** The options with `code` set to `data`: in place of the first instance, or appended. */
export function withOption(options: readonly DhcpOption[], code: number, data: Buffer): DhcpOption[] {
  const at = options.findIndex((o) => o.code === code);
  if (at < 0) return [...options, { code, data }];
  const out = options.filter((o, i) => o.code !== code || i === at);
  out[out.findIndex((o) => o.code === code)] = { code, data };
  return out;
}

export function u32Data(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}
