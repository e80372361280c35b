// A two-node overlay in two network namespaces joined by one veth: the smallest real
// IIPtran deployment. Used by `iiptran demo` and by the netns integration tests. (The
// general topology launcher is `iiptran lab`; this stays as the minimal, dependency-free case.)
//
//   ns A: lo 10.10.0.1/32   vl-b 10.255.0.0/31 ==ESP== vl-a 10.255.0.1/31   lo 10.10.0.2/32 :ns B
//         underlay eth-u 10.200.0.1/24  <-------- veth -------->  10.200.0.2/24 eth-u

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { Suite } from '../control/config-types.js';
import { writeKeyFile } from '../control/keyfile.js';
import { writeAuthKeyPair } from '../control/credentials.js';
import type { AuthKeyType } from '../ike/crypto/auth.js';
import { controlCall } from '../control/control-client.js';
import { addNs, delNsSync, nsExec, nsSpawn, vethPair } from './netns.js';
import { IiptranError } from '../errors.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = path.join(REPO_ROOT, 'bin', 'iiptran.js');

export interface PairOptions {
  /** Unique prefix for namespace names, e.g. `iit-<pid>`. */
  prefix: string;
  suite?: Suite;
  encap?: 'udp' | 'esp';
  underlayMtu?: number;
  /** The vlinks' `liveness:` value; fast by default so failures show within a second. */
  liveness?: string;
  /** Extra node.js flags for the daemons, e.g. ['--cpu-prof'] when profiling. */
  nodeArgs?: string[];
  /**
   * 'ikev2': the vlinks are keyed by IKEv2 with a generated PSK (role auto: node a initiates)
   * instead of key files. `ikeYaml` adds lines under `keying:` (proposals, ...).
   */
  keying?: 'manual' | 'ikev2';
  ikeYaml?: string[];
  /** Write each daemon's IKE key log (IIPTRAN_IKE_KEYLOG) to <dir>/<node>.keys. */
  ikeKeyLog?: boolean;
  /** ikev2: node b gets a different PSK than node a (authentication must fail); with ikeAuth pubkey, b expects a stranger's key for a. */
  mismatchedPsk?: boolean;
  /** ikev2: `auth: psk` (default), or `auth: pubkey` with a generated key pair of this type per node. */
  ikeAuth?: 'psk' | AuthKeyType;
  /** Both nodes' `vn_prefixes` (the fail-closed guard); none by default. */
  vnPrefixes?: string[];
  /** An IPv6 underlay (fd00:200::1 and ::2 on a /64) instead of 10.200.0.1 and .2 on a /24. */
  underlay6?: boolean;
  /** up() waits until the VN pings across; off for labs that must not come up. */
  waitReachable?: boolean;
  log?: (msg: string) => void;
}

export interface PairNode {
  name: 'a' | 'b';
  ns: string;
  underlay: string;
  vn: string;
  vlinkAddr: string;
  vlink: string;
  config: string;
  socket: string;
  logFile: string;
  /** IIPTRAN_IKE_KEYLOG file when ikeKeyLog is set. */
  keyLogFile: string;
  proc: ChildProcess | null;
}

export class PairLab {
  readonly dir: string;
  readonly a: PairNode;
  readonly b: PairNode;
  private readonly opts: Required<Omit<PairOptions, 'log'>> & { log: (m: string) => void };
  private exitHook = () => this.destroySync();

  constructor(opts: PairOptions) {
    this.opts = {
      suite: 'aes-gcm-256', encap: 'udp', underlayMtu: 1500, liveness: '{ interval_ms: 200, dead_ms: 1000 }', nodeArgs: [],
      keying: 'manual', ikeYaml: [], ikeKeyLog: false, mismatchedPsk: false, ikeAuth: 'psk', vnPrefixes: [], underlay6: false, waitReachable: true, log: () => {}, ...opts,
    };
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `${opts.prefix}-`));
    const node = (name: 'a' | 'b', idx: number): PairNode => ({
      name,
      ns: `${opts.prefix}-${name}`,
      underlay: opts.underlay6 === true ? `fd00:200::${idx}` : `10.200.0.${idx}`,
      vn: `10.10.0.${idx}`,
      vlinkAddr: `10.255.0.${idx - 1}`,
      vlink: name === 'a' ? 'vl-b' : 'vl-a',
      config: path.join(this.dir, `${name}.yaml`),
      socket: path.join(this.dir, `${name}.sock`),
      logFile: path.join(this.dir, `${name}.log`),
      keyLogFile: path.join(this.dir, `${name}.keys`),
      proc: null,
    });
    this.a = node('a', 1);
    this.b = node('b', 2);
  }

  /** Key files are named by direction so that A's outbound key is B's inbound key. */
  private keyPath(from: 'a' | 'b'): string {
    return path.join(this.dir, `${from}-to-${from === 'a' ? 'b' : 'a'}.key`);
  }

  /** `auth: pubkey` private key of a node (its public key is this path + .pub). */
  authKeyPath(who: string): string {
    return path.join(this.dir, `${who}.authkey`);
  }

  get pskPath(): string {
    return path.join(this.dir, 'psk');
  }

  private keyingYaml(n: PairNode, peer: PairNode): string[] {
    if (this.opts.keying === 'ikev2') {
      const psk = this.opts.mismatchedPsk && n === this.b ? `${this.pskPath}-b` : this.pskPath;
      const peerKey = this.opts.mismatchedPsk && n === this.b ? 'stranger' : peer.name;
      const auth = this.opts.ikeAuth === 'psk'
        ? [`      psk_file: ${psk}`]
        : ['      auth: pubkey', `      private_key: ${this.authKeyPath(n.name)}`, `      peer_public_key: ${this.authKeyPath(peerKey)}.pub`];
      return [`      mode: ikev2`, ...auth, ...this.opts.ikeYaml.map((l) => `      ${l}`)];
    }
    const spiOut = n === this.a ? '0x0000a001' : '0x0000b001';
    const spiIn = n === this.a ? '0x0000b001' : '0x0000a001';
    return [
      `      mode: manual`,
      `      suite: ${this.opts.suite}`,
      `      spi_out: ${spiOut}`,
      `      spi_in: ${spiIn}`,
      `      key_out: ${this.keyPath(n.name)}`,
      `      key_in: ${this.keyPath(peer.name)}`,
    ];
  }

  writeConfig(n: PairNode, extraVlinkYaml = ''): void {
    const peer = n === this.a ? this.b : this.a;
    const yaml = [
      `# generated by iiptran pair-lab`,
      `node: ${n.name}`,
      `control_socket: ${n.socket}`,
      `log_level: info`,
      ...(this.opts.vnPrefixes.length === 0 ? [] : [`vn_prefixes: [${this.opts.vnPrefixes.join(', ')}]`]),
      `underlay:`,
      `  address: ${n.underlay}`,
      `  mtu: ${this.opts.underlayMtu}`,
      `vlinks:`,
      `  - name: ${n.vlink}`,
      `    peer: ${peer.underlay}`,
      `    encap: ${this.opts.encap}`,
      `    address: ${n.vlinkAddr}/31`,
      `    liveness: ${this.opts.liveness}`,
      `    keying:`,
      ...this.keyingYaml(n, peer),
      extraVlinkYaml,
    ].join('\n');
    fs.writeFileSync(n.config, yaml + '\n');
  }

  async up(): Promise<void> {
    process.once('exit', this.exitHook);
    const { a, b } = this;
    this.opts.log(`namespaces ${a.ns}, ${b.ns}; files in ${this.dir}`);
    await addNs(a.ns);
    await addNs(b.ns);
    const len = this.opts.underlay6 ? 64 : 24;
    await vethPair(a.ns, 'eth-u', `${a.underlay}/${len}`, b.ns, 'eth-u', `${b.underlay}/${len}`, this.opts.underlayMtu);
    for (const n of [a, b]) {
      await nsExec(n.ns, ['ip', 'addr', 'add', `${n.vn}/32`, 'dev', 'lo']);
    }
    if (this.opts.keying === 'ikev2' && this.opts.ikeAuth !== 'psk') {
      for (const who of ['a', 'b', ...(this.opts.mismatchedPsk ? ['stranger'] : [])]) writeAuthKeyPair(this.authKeyPath(who), this.opts.ikeAuth);
    } else if (this.opts.keying === 'ikev2') {
      fs.writeFileSync(this.pskPath, `0x${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
      if (this.opts.mismatchedPsk) fs.writeFileSync(`${this.pskPath}-b`, `0x${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    } else {
      writeKeyFile(this.keyPath('a'), this.opts.suite);
      writeKeyFile(this.keyPath('b'), this.opts.suite);
    }
    this.writeConfig(a);
    this.writeConfig(b);
    for (const n of [a, b]) await this.startNode(n);
    // Static VN routes: each node's /32 is reached through the vlink.
    await this.addVnRoute(a);
    await this.addVnRoute(b);
    if (this.opts.waitReachable) await this.waitReachable();
  }

  /** The peer's VN /32 through the vlink; gone whenever the vlink's TUN is (a daemon restart). */
  async addVnRoute(n: PairNode): Promise<void> {
    const peer = n === this.a ? this.b : this.a;
    await nsExec(n.ns, ['ip', 'route', 'add', `${peer.vn}/32`, 'via', peer.vlinkAddr, 'dev', n.vlink, 'src', n.vn]);
  }

  /** SIGKILL: no clean-up at all, the TUN vanishes with the process; then start it again, route included. */
  async killAndRestart(n: PairNode): Promise<void> {
    await this.stopNode(n, 'SIGKILL');
    await this.startNode(n);
    await this.addVnRoute(n);
  }

  /** Like waiting for convergence: the first packets may meet unresolved underlay ARP. */
  async waitReachable(timeoutMs = 10000): Promise<void> {
    const t0 = Date.now();
    for (;;) {
      const r = await nsExec(this.a.ns, ['ping', '-c', '1', '-W', '1', '-I', this.a.vn, this.b.vn], { allowFail: true });
      if (r.code === 0) return;
      if (Date.now() - t0 > timeoutMs) {
        throw new IiptranError('IIPTRAN_ERR_LAB', `overlay ${this.a.vn} -> ${this.b.vn} not reachable after ${timeoutMs} ms\nnode a:\n${this.logs(this.a)}\nnode b:\n${this.logs(this.b)}`);
      }
    }
  }

  async startNode(n: PairNode): Promise<void> {
    this.opts.log(`starting iiptran node ${n.name} in ${n.ns}`);
    const env = this.opts.ikeKeyLog ? ['env', `IIPTRAN_IKE_KEYLOG=${n.keyLogFile}`] : [];
    n.proc = nsSpawn(n.ns, [...env, process.execPath, ...this.opts.nodeArgs, CLI, 'node', '--config', n.config], n.logFile);
    const deadline = Date.now() + 15000;
    for (;;) {
      if (n.proc.exitCode !== null) {
        throw new IiptranError('IIPTRAN_ERR_LAB', `node ${n.name} exited with ${n.proc.exitCode}:\n${this.logs(n)}`);
      }
      try {
        await controlCall(n.socket, 'ping', {}, 1000);
        return;
      } catch {
        if (Date.now() > deadline) throw new IiptranError('IIPTRAN_ERR_LAB', `node ${n.name} did not open its control socket in 15 s:\n${this.logs(n)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** SIGTERM and wait; SIGKILL after a grace period. Resolves with the exit code. */
  async stopNode(n: PairNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const p = n.proc;
    if (p === null) return null;
    n.proc = null;
    if (p.exitCode !== null) return p.exitCode;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill(signal);
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    const code = await exited;
    clearTimeout(t);
    return code;
  }

  logs(n: PairNode): string {
    try {
      return fs.readFileSync(n.logFile, 'utf8');
    } catch {
      return '(no log)';
    }
  }

  show(n: PairNode, what: string): Promise<unknown> {
    return controlCall(n.socket, 'show', { what });
  }

  async down(): Promise<void> {
    await Promise.all([this.stopNode(this.a), this.stopNode(this.b)]);
    this.destroySync();
  }

  private destroySync(): void {
    for (const n of [this.a, this.b]) {
      if (n.proc !== null && n.proc.exitCode === null) n.proc.kill('SIGKILL');
      delNsSync(n.ns);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    process.off('exit', this.exitHook);
  }
}
