// Typed field readers shared by the node config and topology schemas. Each reader records a
// problem (field path, message, line) and returns a default, so validation goes on and one
// run reports everything wrong with a file.

import { Address4, Address6 } from 'ip-address';
import { parseCidr, parseIpv4 } from '../wire/addr.js';
import { formatIpv6, parseIpv6 } from '../wire/ipv6-text.js';
import { notGlobalUnicast6 } from '../wire/cidr6.js';
import { ConfigErrors, formatPath, lineOf, rootName, type ConfigProblem, type Path, type SchemaCode, type YamlSource } from './yaml-doc.js';

export type Obj = Record<string, unknown>;

/** A value as a message shows it: strings quoted, containers by kind. */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The one known name a typo most plausibly meant, or undefined when none (or several) fit. */
export function suggestField(unknown: string, known: readonly string[]): string | undefined {
  // camelCase is the most common slip from people who read the TypeScript types.
  const snake = unknown.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/-/g, '_').toLowerCase();
  if (snake !== unknown && known.includes(snake)) return snake;
  let best: string | undefined;
  let bestDist = 3;
  let ties = 0;
  for (const k of known) {
    const d = editDistance(unknown.toLowerCase(), k);
    if (d < bestDist) { best = k; bestDist = d; ties = 0; } else if (d === bestDist) ties++;
  }
  return best !== undefined && ties === 0 ? best : undefined;
}

/** True for IPv6 text, with or without a prefix: worth a message of its own while only IPv4 works. */
export function looksIpv6(v: unknown): boolean {
  return typeof v === 'string' && Address6.isValid(v.trim());
}

const IPV6_NOT_YET = 'IPv6 is not supported yet';

export class SchemaValidator {
  readonly problems: ConfigProblem[] = [];
  private readonly root: string;

  constructor(
    private readonly src: YamlSource,
    readonly code: SchemaCode,
  ) {
    this.root = rootName(code);
  }

  err(path: Path, problem: string): void {
    const line = lineOf(this.src, path);
    const field = formatPath(path, this.root);
    this.problems.push(line === undefined ? { field, problem } : { field, problem, line });
  }

  /** Throws every problem recorded so far, if any. */
  throwIfAny(file?: string): void {
    if (this.problems.length > 0) throw new ConfigErrors(this.problems, file, this.code);
  }

  /** The whole file as a mapping; an empty file is reported with `empty`. */
  topLevel(raw: unknown, known: readonly string[], empty: string): Obj | undefined {
    if (raw === null || raw === undefined) {
      this.err([], empty);
      return undefined;
    }
    return this.mapping(raw, [], known);
  }

  /** `known` null: any key is allowed (a mapping of names). `nullOk`: an empty value is an empty mapping. */
  mapping(v: unknown, path: Path, known: readonly string[] | null, nullOk = false): Obj | undefined {
    if (nullOk && (v === null || v === undefined)) return {};
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.err(path, `must be a mapping${known !== null && known.length > 0 ? ` with fields ${known.join(', ')}` : ''} (got ${describe(v)})`);
      return undefined;
    }
    const o = v as Obj;
    if (known === null) return o;
    for (const key of Object.keys(o)) {
      if (known.includes(key)) continue;
      const hint = suggestField(key, known);
      this.err([...path, key], `unknown field${hint ? `; did you mean "${hint}"?` : ''} (allowed here: ${known.join(', ')})`);
    }
    return o;
  }

  present(o: Obj, key: string): boolean {
    return Object.prototype.hasOwnProperty.call(o, key) && o[key] !== undefined;
  }

  required(o: Obj, key: string, path: Path, what: string): boolean {
    if (this.present(o, key)) return true;
    this.err([...path, key], `is required (${what})`);
    return false;
  }

  /** `extra` adds a rule beyond the range; its message is recorded and the value kept. */
  integer(o: Obj, key: string, path: Path, min: number, max: number, dflt: number, extra?: (n: number) => string | undefined): number {
    if (!this.present(o, key)) return dflt;
    const v = o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.err([...path, key], `must be an integer ${min}..${max} (got ${describe(v)})`);
      return dflt;
    }
    const bad = extra?.(v);
    if (bad !== undefined) this.err([...path, key], bad);
    return v;
  }

  oneOf<T extends string>(o: Obj, key: string, path: Path, allowed: readonly T[], dflt: T): T {
    if (!this.present(o, key)) return dflt;
    const v = o[key];
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    this.err([...path, key], `must be one of ${allowed.join(', ')} (got ${describe(v)})`);
    return dflt;
  }

  boolean(o: Obj, key: string, path: Path, dflt: boolean): boolean {
    if (!this.present(o, key)) return dflt;
    const v = o[key];
    if (typeof v === 'boolean') return v;
    this.err([...path, key], `must be true or false (got ${describe(v)})`);
    return dflt;
  }

  /** A string matching `re`; `rule` says what is allowed, the value read is appended. */
  pattern(o: Obj, key: string, path: Path, re: RegExp, rule: string, dflt: string): string {
    if (!this.present(o, key)) return dflt;
    const v = o[key];
    if (typeof v === 'string' && re.test(v)) return v;
    this.err([...path, key], `${rule} (got ${describe(v)})`);
    return dflt;
  }

  /** Records the IPv6 message and returns true when `v` is IPv6 text. */
  private ipv6NotYet(v: unknown, path: Path, want: string): boolean {
    if (!looksIpv6(v)) return false;
    this.err(path, `${IPV6_NOT_YET}; must be ${want} (got ${describe(v)})`);
    return true;
  }

  /** Strict dotted quad (no leading zeros, see wire/addr.ts); `rule` is the message on anything else. */
  ipv4(v: unknown, path: Path, rule: string): string | undefined {
    if (typeof v === 'string' && parseIpv4(v) !== null) return v;
    if (!this.ipv6NotYet(v, path, 'an IPv4 address')) this.err(path, `${rule} (got ${describe(v)})`);
    return undefined;
  }

  /** Unicast IPv4; 0.0.0.0, multicast and broadcast can never be a tunnel endpoint. */
  ipv4Unicast(v: unknown, path: Path): string | undefined {
    const s = this.ipv4(v, path, 'must be an IPv4 address in dotted-quad form, e.g. 192.0.2.1');
    if (s === undefined) return undefined;
    if (s === '0.0.0.0' || s === '255.255.255.255' || new Address4(s).isMulticast()) {
      this.err(path, `must be a unicast IPv4 address, not ${s}`);
      return undefined;
    }
    return s;
  }

  /**
   * A unicast IPv4 address (ipv4Unicast), or a global or unique-local IPv6 address, returned in
   * RFC 5952 form so equal addresses compare equal as text. For underlay addresses.
   */
  ipUnicast(v: unknown, path: Path): string | undefined {
    if (typeof v === 'string' && v.includes(':')) {
      const b = parseIpv6(v.trim());
      const bad = b === null ? undefined : notGlobalUnicast6(b);
      if (b === null) this.err(path, `must be an IPv4 address (e.g. 192.0.2.1) or an IPv6 address without prefix or zone (e.g. 2001:db8::1) (got ${describe(v)})`);
      else if (bad !== undefined) this.err(path, `must be a unicast IPv6 address, not ${bad} (got ${describe(v)})`);
      else return formatIpv6(b);
      return undefined;
    }
    return this.ipv4Unicast(v, path);
  }

  /** `a.b.c.d/n`, host bits allowed (an interface address); returns the address and length. */
  ipv4WithPrefix(v: unknown, path: Path, example: string): { address: string; prefixLen: number } | undefined {
    const m = typeof v === 'string' ? /^([^/]+)\/(\d{1,2})$/.exec(v) : null;
    const len = m ? Number(m[2]) : NaN;
    if (m && parseIpv4(m[1]!) !== null && len >= 0 && len <= 32) return { address: v as string, prefixLen: len };
    if (!this.ipv6NotYet(v, path, `an IPv4 address with prefix length, e.g. ${example}`)) {
      this.err(path, `must be an IPv4 address with prefix length 0..32, e.g. ${example} (got ${describe(v)})`);
    }
    return undefined;
  }

  /** A prefix `a.b.c.d/n` (a bare address means /32); `hostOk` false refuses host bits. */
  ipv4Prefix(v: unknown, path: Path, hostOk: boolean): string | undefined {
    const s = typeof v === 'string' && !v.includes('/') && parseIpv4(v) !== null ? `${v}/32` : v;
    const c = typeof s === 'string' ? parseCidr(s) : null;
    if (c === null) {
      if (!this.ipv6NotYet(v, path, 'an IPv4 prefix like 10.10.0.0/16')) this.err(path, `must be an IPv4 prefix like 10.10.0.0/16 (got ${describe(v)})`);
      return undefined;
    }
    if (!hostOk && new Address4(s as string).startAddress().bigInt() !== BigInt(c.addr)) {
      this.err(path, `has host bits set; write the network address (got ${String(v)})`);
      return undefined;
    }
    return s as string;
  }
}
