// The node config file: its top-level fields and defaults. Parsing, line numbers and the field
// readers come from the shared YAML schema module (yaml-doc.ts, yaml-validator.ts); a vlink
// and its keying are read by config-vlink.ts and config-keying.ts.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { IiptranError } from '../errors.js';
import { LOG_LEVELS, type NodeConfig, type UnderlayConfig } from './config-types.js';
import { checkVnPrefixes } from './vn-prefixes.js';
import { ConfigErrors, parseYaml, type YamlSource } from './yaml-doc.js';
import { SchemaValidator, describe } from './yaml-validator.js';
import { checkSecureDns, readDns } from './config-dns.js';
import { checkDhcp } from './config-dhcp.js';
import { readMetricsListen } from './metrics-config.js';
import { DEFAULT_UDP_PORT, checkVlinkMtus, crossCheckVlinks, readVlink, type PartialVlink } from './config-vlink.js';

export { ConfigErrors, formatPath, yamlToJsProblem, type ConfigProblem } from './yaml-doc.js';
export { editDistance, suggestField } from './yaml-validator.js';
export { DEFAULT_LIVENESS, DEFAULT_UDP_PORT, vlinkMtuProblem } from './config-vlink.js';
export { DEFAULT_CHILD_LIFETIME_S, DEFAULT_IKE_LIFETIME_S, SPI_MAX, SPI_MIN } from './config-keying.js';
export { DEFAULT_REPLAY_WINDOW } from '../dataplane/replay-window.js';

export const DEFAULT_UNDERLAY_MTU = 1500;

const TOP_FIELDS = ['node', 'control_socket', 'control_socket_group', 'log_level', 'underlay', 'vlinks', 'ike_cookie_threshold', 'ike_nat_keepalive_s', 'ike_retry_max_s', 'vn_prefixes', 'dns', 'dhcp_relay', 'metrics_listen'];
const UNDERLAY_FIELDS = ['address', 'mtu', 'port'];

const NODE_NAME_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;
// sun_path is 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH_BYTES = 107;
const GROUP_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
// (gid_t)-1 means "no change" to chown, so it is not a group.
const MAX_GID = 0xfffffffe;

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

/** Throws ConfigErrors (IIPTRAN_ERR_CONFIG) listing every problem in the file. */
export function parseNodeConfig(text: string, opts: { file?: string; baseDir: string }): NodeConfig {
  const src = parseYaml(text, opts.file, 'IIPTRAN_ERR_CONFIG');
  const v = new NodeConfigValidator(src, opts.baseDir);
  const cfg = v.run(src.raw);
  v.throwIfAny(opts.file);
  if (cfg === undefined) throw new ConfigErrors([], opts.file);
  return cfg;
}

class NodeConfigValidator extends SchemaValidator {
  constructor(src: YamlSource, private readonly baseDir: string) {
    super(src, 'IIPTRAN_ERR_CONFIG');
  }

  run(raw: unknown): NodeConfig | undefined {
    const top = this.topLevel(raw, TOP_FIELDS, 'config is empty; expected a mapping with node, underlay and vlinks');
    if (top === undefined) return undefined;

    let node = '';
    if (this.required(top, 'node', [], 'the node name')) {
      node = this.pattern(top, 'node', [], NODE_NAME_RE, 'must be 1..32 characters of a-z, 0-9 and "-", starting with a letter or digit', '');
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
        if (this.required(u, 'address', ['underlay'], "this node's underlay IPv4 or IPv6 address")) {
          address = this.ipUnicast(u.address, ['underlay', 'address']) ?? '';
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
          const vl = readVlink(this, item, i, underlay.address, this.baseDir);
          if (vl !== undefined) vlinks.push(vl);
        });
      }
    }
    // Cross-checks also run on vlinks with their own errors, so one pass reports everything.
    crossCheckVlinks(this, vlinks);
    // An invalid underlay.mtu was reported already; measuring vlinks against its default would mislead.
    if (!this.problems.some((e) => e.field === 'underlay' || e.field === 'underlay.mtu')) checkVlinkMtus(this, underlay.mtu, underlay.address, vlinks);

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

    const dns = readDns(this, top, this.baseDir);
    const named = vlinks.find(({ vl }) => vl.peerName !== undefined);
    if (named !== undefined && dns === undefined && !this.present(top, 'dns')) {
      this.err(['vlinks', named.index, 'peer'], `is a host name (${named.vl.peerName}), so the node needs a dns section (servers and trust_anchors) to resolve it`);
    }
    checkSecureDns(this, vlinks, dns, this.present(top, 'dns'));
    // RFC 3456 over the overlay: the relay and the vlinks' dhcp roles (config-dhcp.ts).
    const dhcpRelay = checkDhcp(this, top, node, vlinks, vnPrefixes);

    const metricsListen = readMetricsListen(this, top);

    if (this.problems.length > 0) return undefined;
    return {
      node, controlSocket, ...(controlSocketGroup === undefined ? {} : { controlSocketGroup }), logLevel, underlay,
      vlinks: vlinks.map(({ vl }) => ({ ...vl, encap: vl.encap!, keying: vl.keying! })),
      ...ikeTop,
      ...(vnPrefixes === undefined ? {} : { vnPrefixes }),
      ...(dns === undefined ? {} : { dns }),
      ...(dhcpRelay === undefined ? {} : { dhcpRelay }),
      ...(metricsListen === undefined ? {} : { metricsListen }),
    };
  }
}
