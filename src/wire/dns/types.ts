// RR type, class and RCODE numbers with their mnemonics (RFC 1035, 3596, 2230, 4034, 5155,
// 6891) and the RFC 3597 TYPEnnn / CLASSnnn fallbacks for everything else.

export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  KX: 36,
  DNAME: 39,
  OPT: 41,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  NSEC3PARAM: 51,
  ANY: 255,
  /** IPSECA (draft-osterweil-dane-ipsec): TLSA's RDATA for IPsec gateways; servers print it TYPE65347. */
  IPSECA: 65347,
} as const;

export const DnsClass = { IN: 1, CH: 3, ANY: 255 } as const;

export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

const TYPE_NAMES = new Map<number, string>(Object.entries(RRType).map(([k, v]) => [v, k]));
const TYPE_NUMBERS = new Map<string, number>([...TYPE_NAMES].map(([v, k]) => [k, v]));

/** Mnemonic, or TYPEnnn (RFC 3597 §5) for types without one here. */
export function typeToString(t: number): string {
  return TYPE_NAMES.get(t) ?? `TYPE${t}`;
}

/** Mnemonic or TYPEnnn to a number; null when neither. */
export function typeFromString(s: string): number | null {
  const u = s.toUpperCase();
  const known = TYPE_NUMBERS.get(u);
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(u);
  if (!m) return null;
  const n = Number(m[1]);
  return n <= 0xffff ? n : null;
}

export function classToString(c: number): string {
  if (c === DnsClass.IN) return 'IN';
  if (c === DnsClass.CH) return 'CH';
  if (c === DnsClass.ANY) return 'ANY';
  return `CLASS${c}`;
}

const RCODE_NAMES = new Map<number, string>(Object.entries(Rcode).map(([k, v]) => [v, k]));

export function rcodeToString(r: number): string {
  return RCODE_NAMES.get(r) ?? `RCODE${r}`;
}
