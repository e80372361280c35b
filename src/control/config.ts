import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Document, LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { ConfigError, IiptranError } from '../errors.js';
import { LOG_LEVELS, type IkeKeying, type Keying, type Liveness, type ManualKeying, type NodeConfig, type Suite, type UnderlayConfig, type VlinkConfig } from './config-types.js';
import { SUITES } from '../dataplane/suite.js';
import { DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS, parseEspProposal, parseIkeProposal } from '../ike/proposals.js';
import { DEFAULT_DPD_INTERVAL_S } from '../ike/dpd.js';
import { parseIdentity } from '../ike/identity.js';
import { checkVnPrefixes } from './vn-prefixes.js';
import { vlinkMtu } from '../dataplane/mtu.js';

export interface ConfigProblem {
  /** Path of the offending field, e.g. `vlinks[1].keying.spi_in`. */
  field: string;
  problem: string;
  /** 1-based line in the YAML source, when the field (or its parent) exists there. */
  line?: number;
}

/**
 * All problems found in one config. `field` and the first line of the message describe the
 * first problem so code written against plain ConfigError keeps working; `errors` has all of them.
 */
export class ConfigErrors extends ConfigError {
  readonly errors: readonly ConfigProblem[];
  readonly file: string | undefined;
  constructor(errors: readonly ConfigProblem[], file?: string) {
    const first = errors[0] ?? { field: '(config)', problem: 'invalid' };
    super(first.field, first.problem, file);
    this.name = 'ConfigErrors';
    this.errors = errors;
    this.file = file;
    const prefix = file ? `${file}: ` : '';
    this.message = errors.length === 1
      ? prefix + formatProblem(first)
      : `${prefix}${errors.length} problems:\n` + errors.map((e) => '  ' + formatProblem(e)).join('\n');
  }
}

function formatProblem(p: ConfigProblem): string {
  return `${p.field}: ${p.problem}${p.line === undefined ? '' : ` (line ${p.line})`}`;
}

export const DEFAULT_UNDERLAY_MTU = 1500;
export const DEFAULT_UDP_PORT = 4500;
export const DEFAULT_REPLAY_WINDOW = 1024;
export const SPI_MIN = 0x100;
export const SPI_MAX = 0xffffffff;

const ENCAPS = ['udp', 'esp'] as const;

const TOP_FIELDS = ['node', 'control_socket', 'control_socket_group', 'log_level', 'underlay', 'vlinks', 'ike_cookie_threshold', 'ike_nat_keepalive_s', 'ike_retry_max_s', 'vn_prefixes'];
const UNDERLAY_FIELDS = ['address', 'mtu', 'port'];
const VLINK_FIELDS = ['name', 'peer', 'peer_port', 'encap', 'address', 'peer_address', 'mtu', 'replay_window', 'liveness', 'keying'];
const LIVENESS_FIELDS = ['interval_ms', 'dead_ms'];
export const DEFAULT_LIVENESS = { intervalMs: 1000, deadMs: 4000 } as const;
const KEYING_FIELDS = ['mode', 'suite', 'spi_in', 'spi_out', 'key_in', 'key_out', 'esn'];
const IKE_KEYING_FIELDS = ['mode', 'auth', 'psk_file', 'private_key', 'peer_public_key', 'child_mode', 'role', 'ike_proposals', 'esp_proposals', 'local_id', 'remote_id', 'ike_lifetime_s', 'child_lifetime_s', 'child_lifetime_bytes', 'child_lifetime_packets', 'dpd_interval_s'];
export const DEFAULT_IKE_LIFETIME_S = 14400;
export const DEFAULT_CHILD_LIFETIME_S = 3600;

const NODE_NAME_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
// sun_path is 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH_BYTES = 107;
const GROUP_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
// (gid_t)-1 means "no change" to chown, so it is not a group.
const MAX_GID = 0xfffffffe;

type Path = (string | number)[];
type Obj = Record<string, unknown>;

/** A vlink as far as it validated: '' / 0 / undefined mark fields that were invalid or missing. */
interface PartialVlink {
  index: number;
  vl: Omit<VlinkConfig, 'keying' | 'encap'> & { encap: VlinkConfig['encap'] | undefined; keying: Keying | undefined };
}

export function loadNodeConfig(path: string): NodeConfig {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist'
      : code === 'EISDIR' ? 'is a directory, not a file'
      : code === 'EACCES' ? 'is not readable (permission denied)'
      : `cannot be read (${code ?? String(err)})`;
    throw new IiptranError('IIPTRAN_ERR_CONFIG', `config file ${abs} ${why}`, { cause: err });
  }
  return parseNodeConfig(text, { file: path, baseDir: dirname(abs) });
}

export function parseNodeConfig(text: string, opts: { file?: string; baseDir: string }): NodeConfig {
  const lineCounter = new LineCounter();
  // prettyErrors would embed a source excerpt in every message; we want one line per problem.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, version: '1.2', logLevel: 'error' });
  if (doc.errors.length > 0) {
    throw new ConfigErrors(
      doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return { field: '(yaml)', problem: `syntax error at line ${line}, column ${col}: ${firstLine(e.message)}` };
      }),
      opts.file,
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // An alias bomb (a few lines expanding to billions of nodes) is refused here, as a config error.
    throw new ConfigErrors([{ field: '(yaml)', problem: yamlToJsProblem(e) }], opts.file);
  }
  const v = new Validator(doc, lineCounter, opts.baseDir);
  const cfg = v.run(raw);
  if (v.errors.length > 0 || cfg === undefined) throw new ConfigErrors(v.errors, opts.file);
  return cfg;
}

/** Why the yaml library refused to build the data of a document it had parsed. */
export function yamlToJsProblem(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return /alias count/i.test(msg)
    ? `aliases expand to too many nodes (${msg}); refusing the file`
    : `cannot be read as data: ${firstLine(msg)}`;
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return (i < 0 ? s : s.slice(0, i)).replace(/ at line \d+, column \d+:?$/, '');
}

/**
 * Why an explicit vlink MTU cannot be used, or undefined when it fits. The one rule shared by
 * config validation (check-config, start, reload) and OverlayNode.prepare.
 */
export function vlinkMtuProblem(underlayMtu: number, encap: 'udp' | 'esp', mtu: number): string | undefined {
  const max = vlinkMtu(underlayMtu, encap);
  if (mtu <= max) return undefined;
  return `${mtu} does not fit: underlay.mtu ${underlayMtu} minus the ${encap} ESP encapsulation overhead leaves at most ${max}; use mtu: auto or at most ${max}`;
}

export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out === '' ? '(config)' : out;
}

function describe(v: unknown): string {
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

function hex(n: number): string {
  return '0x' + n.toString(16);
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

class Validator {
  readonly errors: ConfigProblem[] = [];

  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly baseDir: string,
  ) {}

  private err(path: Path, problem: string): void {
    const line = this.lineOf(path);
    this.errors.push(line === undefined ? { field: formatPath(path), problem } : { field: formatPath(path), problem, line });
  }

  /** Line of the deepest node along `path` that exists in the source. */
  private lineOf(path: Path): number | undefined {
    let node: unknown = this.doc.contents;
    let offset: number | undefined;
    const rangeOf = (n: unknown) => (n as { range?: [number, number, number] } | null)?.range?.[0];
    offset = rangeOf(node);
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
        if (pair === undefined) break;
        next = pair.value ?? pair.key;
        offset = rangeOf(pair.key) ?? offset;
      } else if (isSeq(node) && typeof seg === 'number') {
        next = node.items[seg];
        if (next === undefined) break;
      } else break;
      offset = rangeOf(next) ?? offset;
      node = next as YamlNode;
    }
    return offset === undefined ? undefined : this.lines.linePos(offset).line;
  }

  private mapping(v: unknown, path: Path, known: readonly string[]): Obj | undefined {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.err(path, `must be a mapping with fields ${known.join(', ')} (got ${describe(v)})`);
      return undefined;
    }
    const obj = v as Obj;
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      const hint = suggestField(key, known);
      this.err([...path, key], `unknown field${hint ? `; did you mean "${hint}"?` : ''} (allowed here: ${known.join(', ')})`);
    }
    return obj;
  }

  private present(obj: Obj, key: string): boolean {
    return Object.prototype.hasOwnProperty.call(obj, key);
  }

  private required(obj: Obj, key: string, path: Path, what: string): boolean {
    if (this.present(obj, key)) return true;
    this.err([...path, key], `is required (${what})`);
    return false;
  }

  private integer(obj: Obj, key: string, path: Path, min: number, max: number, dflt: number, extra?: (n: number) => string | undefined): number {
    if (!this.present(obj, key)) return dflt;
    const v = obj[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.err([...path, key], `must be an integer ${min}..${max} (got ${describe(v)})`);
      return dflt;
    }
    const bad = extra?.(v);
    if (bad !== undefined) this.err([...path, key], bad);
    return v;
  }

  private oneOf<T extends string>(obj: Obj, key: string, path: Path, allowed: readonly T[], dflt: T): T {
    if (!this.present(obj, key)) return dflt;
    const v = obj[key];
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    this.err([...path, key], `must be one of ${allowed.join(', ')} (got ${describe(v)})`);
    return dflt;
  }

  /** Unicast IPv4 in dotted-quad; 0.0.0.0, multicast and broadcast can never be a tunnel endpoint. */
  private ipv4(v: unknown, path: Path): string | undefined {
    if (typeof v !== 'string' || !isIPv4(v)) {
      this.err(path, `must be an IPv4 address in dotted-quad form, e.g. 192.0.2.1 (got ${describe(v)})`);
      return undefined;
    }
    const first = Number(v.split('.')[0]);
    if (v === '0.0.0.0' || v === '255.255.255.255' || (first >= 224 && first <= 239)) {
      this.err(path, `must be a unicast IPv4 address, not ${v}`);
      return undefined;
    }
    return v;
  }

  run(raw: unknown): NodeConfig | undefined {
    if (raw === null || raw === undefined) {
      this.err([], 'config is empty; expected a mapping with node, underlay and vlinks');
      return undefined;
    }
    const top = this.mapping(raw, [], TOP_FIELDS);
    if (top === undefined) return undefined;

    let node = '';
    if (this.required(top, 'node', [], 'the node name')) {
      const v = top.node;
      if (typeof v === 'string' && NODE_NAME_RE.test(v)) node = v;
      else this.err(['node'], `must be 1..32 characters of a-z, 0-9 and "-", starting with a letter or digit (got ${describe(v)})`);
    }

    let controlSocket = `/run/iiptran/${node || 'node'}.sock`;
    if (this.present(top, 'control_socket')) {
      const v = top.control_socket;
      if (typeof v !== 'string' || v === '') {
        this.err(['control_socket'], `must be a non-empty path (got ${describe(v)})`);
      } else {
        controlSocket = resolve(this.baseDir, v);
        if (Buffer.byteLength(controlSocket) > MAX_SOCKET_PATH_BYTES) {
          this.err(['control_socket'], `resolves to ${controlSocket}, which is longer than the ${MAX_SOCKET_PATH_BYTES}-byte limit for a Unix socket path`);
        }
      }
    }

    // Resolved to a gid (and checked to exist) by config-check.ts, which may read the system's group database.
    let controlSocketGroup: string | number | undefined;
    if (this.present(top, 'control_socket_group')) {
      const v = top.control_socket_group;
      if ((typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_GID) || (typeof v === 'string' && GROUP_NAME_RE.test(v))) controlSocketGroup = v;
      else this.err(['control_socket_group'], `must be a group name (letters, digits, _ . -, not starting with a digit or -) or a numeric gid 0..${MAX_GID} (got ${describe(v)})`);
    }

    const logLevel = this.oneOf(top, 'log_level', [], LOG_LEVELS, 'info');

    let underlay: UnderlayConfig = { address: '', mtu: DEFAULT_UNDERLAY_MTU, port: DEFAULT_UDP_PORT };
    if (this.required(top, 'underlay', [], 'a mapping with address, mtu, port')) {
      const u = this.mapping(top.underlay, ['underlay'], UNDERLAY_FIELDS);
      if (u !== undefined) {
        let address = '';
        if (this.required(u, 'address', ['underlay'], "this node's underlay IPv4 address")) {
          address = this.ipv4(u.address, ['underlay', 'address']) ?? '';
        }
        underlay = {
          address,
          mtu: this.integer(u, 'mtu', ['underlay'], 576, 65535, DEFAULT_UNDERLAY_MTU),
          port: this.integer(u, 'port', ['underlay'], 1, 65535, DEFAULT_UDP_PORT),
        };
      }
    }

    const vlinks: PartialVlink[] = [];
    if (this.required(top, 'vlinks', [], 'a list of virtual links')) {
      const list = top.vlinks;
      if (!Array.isArray(list) || list.length === 0) {
        this.err(['vlinks'], `must be a non-empty list of virtual links (got ${Array.isArray(list) ? 'an empty list' : describe(list)})`);
      } else {
        list.forEach((item, i) => {
          const vl = this.vlink(item, i, underlay.address);
          if (vl !== undefined) vlinks.push(vl);
        });
      }
    }
    // Cross-checks also run on vlinks with their own errors, so one pass reports everything.
    this.crossCheck(vlinks);
    // An invalid underlay.mtu was reported already; measuring vlinks against its default would mislead.
    if (!this.errors.some((e) => e.field === 'underlay' || e.field === 'underlay.mtu')) {
      for (const { index, vl } of vlinks) {
        const bad = vl.encap === undefined || vl.mtu === 'auto' ? undefined : vlinkMtuProblem(underlay.mtu, vl.encap, vl.mtu);
        if (bad !== undefined) this.err(['vlinks', index, 'mtu'], bad);
      }
    }

    // Engine-wide IKE knobs; absent means the engine's defaults (cookie.ts, nat.ts).
    const ikeTop: Pick<NodeConfig, 'ikeCookieThreshold' | 'ikeNatKeepaliveS' | 'ikeRetryMaxS'> = {};
    if (this.present(top, 'ike_cookie_threshold')) ikeTop.ikeCookieThreshold = this.integer(top, 'ike_cookie_threshold', [], 0, 1024, 10);
    if (this.present(top, 'ike_nat_keepalive_s')) ikeTop.ikeNatKeepaliveS = this.integer(top, 'ike_nat_keepalive_s', [], 0, 3600, 20);
    if (this.present(top, 'ike_retry_max_s')) ikeTop.ikeRetryMaxS = this.integer(top, 'ike_retry_max_s', [], 1, 3600, 60);

    // The fail-closed guard's address space (vn-prefixes.ts); absent: no guard.
    let vnPrefixes: string[] | undefined;
    if (this.present(top, 'vn_prefixes')) {
      const r = checkVnPrefixes(top.vn_prefixes, underlay.address, vlinks.map(({ index, vl }) => ({ index, peer: vl.peer })));
      for (const p of r.problems) this.err(p.path, p.problem);
      vnPrefixes = r.prefixes;
    }

    if (this.errors.length > 0) return undefined;
    return {
      node, controlSocket, ...(controlSocketGroup === undefined ? {} : { controlSocketGroup }), logLevel, underlay,
      vlinks: vlinks.map(({ vl }) => ({ ...vl, encap: vl.encap!, keying: vl.keying! })),
      ...ikeTop,
      ...(vnPrefixes === undefined ? {} : { vnPrefixes }),
    };
  }

  private vlink(item: unknown, i: number, underlayAddress: string): PartialVlink | undefined {
    const p: Path = ['vlinks', i];
    const o = this.mapping(item, p, VLINK_FIELDS);
    if (o === undefined) return undefined;

    let name = '';
    if (this.required(o, 'name', p, 'the TUN interface name')) {
      const v = o.name;
      if (typeof v === 'string' && IFNAME_RE.test(v) && v !== '.' && v !== '..') name = v;
      else this.err([...p, 'name'], `must be an interface name of 1..15 characters from A-Z a-z 0-9 _ . - (got ${describe(v)})`);
    }

    let peer = '';
    if (this.required(o, 'peer', p, "the peer's underlay IPv4 address")) {
      peer = this.ipv4(o.peer, [...p, 'peer']) ?? '';
      if (peer !== '' && peer === underlayAddress) {
        this.err([...p, 'peer'], `must differ from underlay.address (${underlayAddress}); a vlink to this node itself would loop`);
      }
    }

    const peerPort = this.integer(o, 'peer_port', p, 1, 65535, DEFAULT_UDP_PORT);
    const encapBefore = this.errors.length;
    let encap: VlinkConfig['encap'] | undefined = this.oneOf(o, 'encap', p, ENCAPS, 'udp');
    if (this.errors.length > encapBefore) encap = undefined;

    let address = '';
    let prefixLen = 0;
    if (this.required(o, 'address', p, 'local VN address with prefix, e.g. 10.255.0.0/31')) {
      const v = o.address;
      const m = typeof v === 'string' ? /^([^/]+)\/(\d{1,2})$/.exec(v) : null;
      const len = m ? Number(m[2]) : NaN;
      if (!m || !isIPv4(m[1]!) || !(len >= 0 && len <= 32)) {
        this.err([...p, 'address'], `must be an IPv4 address with prefix length 0..32, e.g. 10.255.0.0/31 (got ${describe(v)})`);
      } else {
        address = v as string;
        prefixLen = len;
      }
    }

    let peerAddress: string | undefined;
    if (this.present(o, 'peer_address')) {
      const v = o.peer_address;
      if (typeof v !== 'string' || !isIPv4(v)) {
        this.err([...p, 'peer_address'], `must be an IPv4 address without prefix, e.g. 10.255.0.1 (got ${describe(v)})`);
      } else {
        peerAddress = v;
        if (address !== '' && prefixLen !== 32) {
          this.err([...p, 'address'], `must have prefix /32 when peer_address is set (point-to-point), got /${prefixLen}`);
        }
        if (address !== '' && address.split('/')[0] === v) {
          this.err([...p, 'peer_address'], `must differ from the local address ${address}`);
        }
      }
    }

    let mtu: number | 'auto' = 'auto';
    if (this.present(o, 'mtu')) {
      const v = o.mtu;
      if (v === 'auto' || (typeof v === 'number' && Number.isInteger(v) && v >= 576 && v <= 65535)) mtu = v as number | 'auto';
      else this.err([...p, 'mtu'], `must be "auto" or an integer 576..65535 (got ${describe(v)})`);
    }

    const replayWindow = this.integer(o, 'replay_window', p, 1024, 65536, DEFAULT_REPLAY_WINDOW,
      (n) => (n % 32 === 0 ? undefined : `must be a multiple of 32 in 1024..65536 (got ${n})`));

    const liveness = this.liveness(o, p);

    let keying: Keying | undefined;
    if (this.required(o, 'keying', p, 'keying: mode manual (suite, spi_in, spi_out, key_in, key_out) or mode ikev2 (psk_file, ...)')) {
      const k = o.keying;
      const ike = k !== null && typeof k === 'object' && !Array.isArray(k) && (k as Obj).mode === 'ikev2';
      keying = ike ? this.ikeKeying(k as Obj, [...p, 'keying']) : this.keying(k, [...p, 'keying']);
    }

    return {
      index: i,
      vl: { name, peer, peerPort, encap, address, prefixLen, peerAddress, mtu, replayWindow, liveness, keying },
    };
  }

  /** `liveness: off`, or a mapping whose fields default individually. */
  private liveness(o: Obj, p: Path): Liveness | null {
    if (!this.present(o, 'liveness')) return { ...DEFAULT_LIVENESS };
    const lp = [...p, 'liveness'];
    if (o.liveness === 'off' || o.liveness === false) return null;
    const m = this.mapping(o.liveness, lp, LIVENESS_FIELDS);
    if (m === undefined) return { ...DEFAULT_LIVENESS };
    const intervalMs = this.integer(m, 'interval_ms', lp, 50, 60000, DEFAULT_LIVENESS.intervalMs);
    const deadMs = this.integer(m, 'dead_ms', lp, 100, 600000, Math.max(DEFAULT_LIVENESS.deadMs, intervalMs * 3));
    if (deadMs < intervalMs * 2) {
      // One lost probe must not flap the link.
      this.err([...lp, 'dead_ms'], `must be at least twice interval_ms (${intervalMs * 2}), got ${deadMs}`);
    }
    return { intervalMs, deadMs };
  }

  private keying(v: unknown, p: Path): ManualKeying | undefined {
    const k = this.mapping(v, p, KEYING_FIELDS);
    if (k === undefined) return undefined;
    if (!this.required(k, 'mode', p, '"manual" or "ikev2"')) return undefined;
    if (k.mode !== 'manual') {
      // Without a working mode the remaining fields have no defined meaning, so stop here.
      this.err([...p, 'mode'], `must be "manual" or "ikev2" (got ${describe(k.mode)})`);
      return undefined;
    }
    let suite: Suite = 'aes-gcm-256';
    if (this.required(k, 'suite', p, SUITES.join(', '))) suite = this.oneOf(k, 'suite', p, SUITES, suite);
    const spiIn = this.required(k, 'spi_in', p, 'the SPI this node expects on inbound packets') ? this.spi(k.spi_in, [...p, 'spi_in']) : 0;
    const spiOut = this.required(k, 'spi_out', p, 'the SPI this node puts on outbound packets') ? this.spi(k.spi_out, [...p, 'spi_out']) : 0;
    const keyIn = this.required(k, 'key_in', p, 'path of the inbound key file') ? this.keyPath(k.key_in, [...p, 'key_in']) : '';
    const keyOut = this.required(k, 'key_out', p, 'path of the outbound key file') ? this.keyPath(k.key_out, [...p, 'key_out']) : '';
    let esn = false;
    if (this.present(k, 'esn')) {
      if (typeof k.esn === 'boolean') esn = k.esn;
      else this.err([...p, 'esn'], `must be true or false (got ${describe(k.esn)})`);
    }
    return { mode: 'manual', suite, spiIn, spiOut, keyIn, keyOut, esn };
  }

  /** `mode: ikev2`: fields that other modes do not have, so unknown-field hints fit the mode. */
  private ikeKeying(v: Obj, p: Path): IkeKeying | undefined {
    const k = this.mapping(v, p, IKE_KEYING_FIELDS);
    if (k === undefined) return undefined;
    const auth = this.oneOf(k, 'auth', p, ['psk', 'pubkey'] as const, 'psk');
    const credential = (key: string, what: string, forAuth: 'psk' | 'pubkey'): string => {
      if (auth !== forAuth) {
        // A key file that is silently ignored would make the operator believe it is in use.
        if (this.present(k, key)) this.err([...p, key], `is only used with auth: ${forAuth} (this vlink has auth: ${auth})`);
        return '';
      }
      return this.required(k, key, p, what) ? this.keyPath(k[key], [...p, key]) : '';
    };
    const pskFile = credential('psk_file', 'path of the pre-shared key file', 'psk');
    const privateKey = credential('private_key', 'our Ed25519 or ECDSA P-256 private key, PEM or DER; iiptran genauthkey makes one', 'pubkey');
    const peerPublicKey = credential('peer_public_key', "the peer's public key, PEM or DER SubjectPublicKeyInfo", 'pubkey');
    const childMode = this.oneOf(k, 'child_mode', p, ['transport', 'tunnel-any'] as const, 'transport');
    const role = this.oneOf(k, 'role', p, ['initiator', 'responder', 'auto'] as const, 'auto');
    const ikeProposals = this.proposals(k, 'ike_proposals', p, DEFAULT_IKE_PROPOSALS, parseIkeProposal);
    const espProposals = this.proposals(k, 'esp_proposals', p, DEFAULT_ESP_PROPOSALS, parseEspProposal);
    const localId = this.identity(k, 'local_id', p);
    const remoteId = this.identity(k, 'remote_id', p);
    // Minimums of seconds: short lifetimes cost rekeys, not safety, and let tests rekey under load.
    const ikeLifetimeS = this.integer(k, 'ike_lifetime_s', p, 10, 7 * 86400, DEFAULT_IKE_LIFETIME_S);
    const childLifetimeS = this.integer(k, 'child_lifetime_s', p, 2, 86400, DEFAULT_CHILD_LIFETIME_S);
    const childLifetimeBytes = this.integer(k, 'child_lifetime_bytes', p, 0, Number.MAX_SAFE_INTEGER, 0, (n) => (n !== 0 && n < 1048576 ? 'must be 0 (none) or at least 1048576 (1 MiB)' : undefined));
    const childLifetimePackets = this.integer(k, 'child_lifetime_packets', p, 0, Number.MAX_SAFE_INTEGER, 0, (n) => (n !== 0 && n < 1000 ? 'must be 0 (none) or at least 1000' : undefined));
    const dpdIntervalS = this.integer(k, 'dpd_interval_s', p, 0, 3600, DEFAULT_DPD_INTERVAL_S);
    return { mode: 'ikev2', auth, pskFile, privateKey, peerPublicKey, childMode, role, ikeProposals, espProposals, localId, remoteId, ikeLifetimeS, childLifetimeS, childLifetimeBytes, childLifetimePackets, dpdIntervalS };
  }

  private proposals(k: Obj, key: string, p: Path, dflt: readonly string[], parse: (s: string) => object | string): string[] {
    if (!this.present(k, key)) return [...dflt];
    const v = k[key];
    const list = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(list) || list.length === 0 || list.some((x) => typeof x !== 'string')) {
      this.err([...p, key], `must be a non-empty list of proposal strings such as ${JSON.stringify(dflt[0])} (got ${describe(v)})`);
      return [...dflt];
    }
    list.forEach((x: string, i) => {
      const r = parse(x);
      if (typeof r === 'string') this.err([...p, key, i], `${JSON.stringify(x)} ${r}`);
    });
    return list as string[];
  }

  private identity(k: Obj, key: string, p: Path): string | undefined {
    if (!this.present(k, key)) return undefined;
    const v = k[key];
    const r = typeof v === 'string' ? parseIdentity(v) : 'must be a string';
    if (typeof r === 'string') {
      this.err([...p, key], `${r}; an IPv4 address, an FQDN (vpn.example.org or @name) or user@domain (got ${describe(v)})`);
      return undefined;
    }
    return v as string;
  }

  private spi(v: unknown, p: Path): number {
    let n = NaN;
    if (typeof v === 'number') n = v;
    else if (typeof v === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(v.trim())) n = Number(v.trim());
    const allowed = `must be an integer ${hex(SPI_MIN)}..${hex(SPI_MAX)}`;
    if (!Number.isInteger(n)) {
      this.err(p, `${allowed} (got ${describe(v)})`);
      return 0;
    }
    if (n < SPI_MIN) {
      this.err(p, `${allowed}; 0 is invalid and 1..255 are reserved by RFC 4303 (got ${n} = ${hex(n)})`);
      return 0;
    }
    if (n > SPI_MAX) {
      this.err(p, `${allowed}; an SPI is 32 bits (got ${n} = ${hex(n)})`);
      return 0;
    }
    return n;
  }

  private keyPath(v: unknown, p: Path): string {
    if (typeof v !== 'string' || v.trim() === '') {
      this.err(p, `must be a path to a key file, relative to the config file's directory or absolute (got ${describe(v)})`);
      return '';
    }
    return isAbsolute(v) ? resolve(v) : resolve(this.baseDir, v);
  }

  private crossCheck(vlinks: PartialVlink[]): void {
    const names = new Map<string, number>();
    const spis = new Map<number, number>();
    const selectors = new Map<string, number>();
    const keyFiles = new Map<string, string>();
    const ikePeers = new Map<string, number>();
    // Empty / zero / undefined values were already reported as invalid; skip them here.
    for (const { index: i, vl } of vlinks) {
      const here = `vlinks[${i}]`;
      if (vl.name !== '') {
        const seen = names.get(vl.name);
        if (seen !== undefined) {
          this.err(['vlinks', i, 'name'], `duplicate vlink name "${vl.name}" (also used by vlinks[${seen}]); names must be unique`);
        } else names.set(vl.name, i);
      }

      const manual = vl.keying?.mode === 'manual' ? vl.keying : undefined;
      if (vl.keying?.mode === 'ikev2' && vl.peer !== '') {
        const seen = ikePeers.get(vl.peer);
        if (seen !== undefined) {
          this.err(['vlinks', i, 'peer'], `vlinks[${seen}] already runs IKEv2 with peer ${vl.peer}; IKE finds a vlink by its peer's address, so only one ikev2 vlink per peer`);
        } else ikePeers.set(vl.peer, i);
      }

      const spiIn = manual?.spiIn ?? 0;
      if (spiIn !== 0) {
        const seen = spis.get(spiIn);
        if (seen !== undefined) {
          this.err(['vlinks', i, 'keying', 'spi_in'], `duplicate spi_in ${hex(spiIn)} (also used by vlinks[${seen}]); inbound SAs are looked up by SPI, so spi_in must be unique on a node`);
        } else spis.set(spiIn, i);
      }

      if (vl.peer !== '' && vl.encap !== undefined) {
        const sel = `${vl.peer}/${vl.encap}`;
        const seen = selectors.get(sel);
        if (seen !== undefined) {
          this.err(['vlinks', i, 'peer'], `vlinks[${seen}] and ${here} both have peer ${vl.peer} with encap ${vl.encap}; the outer-header SPD selector (peer, encap) would be ambiguous`);
        } else selectors.set(sel, i);
      }

      // Manual SAs all start their sequence numbers, and so their AEAD nonces, at the same
      // value: one key behind two SAs repeats nonces, which breaks GCM and ChaCha20-Poly1305.
      for (const [field, file] of [['key_in', manual?.keyIn ?? ''], ['key_out', manual?.keyOut ?? '']] as const) {
        if (file === '') continue;
        const seen = keyFiles.get(file);
        if (seen !== undefined) {
          this.err(['vlinks', i, 'keying', field], `key file ${file} is already used by ${seen}; every SA needs its own key, because reusing one repeats AEAD nonces`);
        } else keyFiles.set(file, `${here}.keying.${field}`);
      }
    }
  }
}
