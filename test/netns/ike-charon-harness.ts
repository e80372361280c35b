// iiptran against Debian's strongSwan charon: one namespace each, joined by a veth. charon runs
// as ../shared/interop/strongswan.md describes (private /run, explicit plugin list,
// kernel-netlink, a key log at ike = 4 / chd = 4); iiptran runs as a real daemon with
// IIPTRAN_IKE_KEYLOG so both sides' secrets can be compared. Everything is removed in destroy(),
// which also runs on process exit.

import { execFileSync, type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addNs, delNsSync, nsSpawn, run, vethPair } from '../../src/lab/netns.js';
import { controlCall } from '../../src/control/control-client.js';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';
import assert from 'node:assert/strict';
import { childKeymat, childSaKeys } from '../../src/ike/crypto/keys.js';
import type { PrfId } from '../../src/ike/crypto/prf.js';
import type { Suite } from '../../src/control/config-types.js';

const CLI = path.join(REPO_ROOT, 'bin', 'iiptran.js');

export function haveCharon(): boolean {
  return fs.existsSync('/usr/lib/ipsec/charon') && fs.existsSync('/usr/sbin/swanctl');
}

export interface CharonCase {
  /** charon's proposals, strongSwan syntax; iiptran gets the same strings. */
  ike: string;
  esp: string;
  /** Who starts IKE_SA_INIT. */
  initiator: 'iiptran' | 'charon';
  /** charon with kernel-libipsec (ESP in userspace over its TUN ipsec0) instead of kernel-netlink. */
  libipsec?: boolean;
  /** Extra lines inside strongswan.conf's `charon { }`. */
  charonConf?: string;
  /** Replaces the generated swanctl.conf (PSK, transport mode) entirely. */
  swanctlConf?: (lab: CharonLab) => string;
  /** Replaces iiptran's vlink lines after `peer:` (address, liveness, keying, ...), each without indentation. */
  iiptranVlink?: (lab: CharonLab) => string[];
  /** An IPv6 underlay (fd00:233:<subnet>::1 and ::2): IKE over IPv6, ID_IPV6_ADDR, TS_IPV6_ADDR_RANGE. */
  ipv6?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class CharonLab {
  readonly dir: string;
  readonly nsI: string;
  readonly nsC: string;
  readonly addrI: string;
  readonly addrC: string;
  readonly psk = randomBytes(32).toString('hex');
  private charon: ChildProcess | null = null;
  private iiptran: ChildProcess | null = null;
  private exitHook = () => this.destroy();

  constructor(prefix: string, readonly c: CharonCase, subnet: number) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
    this.nsI = `${prefix}-i`;
    this.nsC = `${prefix}-c`;
    this.addrI = c.ipv6 === true ? `fd00:233:${subnet}::1` : `10.233.${subnet}.1`;
    this.addrC = c.ipv6 === true ? `fd00:233:${subnet}::2` : `10.233.${subnet}.2`;
  }

  get charonDir(): string {
    return path.join(this.dir, 'charon');
  }
  get charonLog(): string {
    return path.join(this.charonDir, 'charon.log');
  }
  get iiptranLog(): string {
    return path.join(this.dir, 'iiptran.log');
  }
  get keyLog(): string {
    return path.join(this.dir, 'iiptran.keys');
  }
  get socket(): string {
    return path.join(this.dir, 'iiptran.sock');
  }

  async up(): Promise<void> {
    process.once('exit', this.exitHook);
    await addNs(this.nsI);
    await addNs(this.nsC);
    const len = this.c.ipv6 === true ? 64 : 24;
    await vethPair(this.nsI, 'eth-u', `${this.addrI}/${len}`, this.nsC, 'eth-u', `${this.addrC}/${len}`);
    await this.startCharon();
    await this.startIiptran();
  }

  private async startCharon(): Promise<void> {
    const d = this.charonDir;
    fs.mkdirSync(path.join(d, 'run'), { recursive: true });
    fs.writeFileSync(path.join(d, 'strongswan.conf'), `charon {
  load_modular = no
  load = random nonce openssl aes sha1 sha2 hmac gcm chapoly curve25519 kdf pem pkcs1 pkcs8 x509 pubkey ${this.c.libipsec === true ? 'kernel-libipsec kernel-netlink' : 'kernel-netlink'} socket-default vici
  install_routes = no
  install_virtual_ip = no
  retransmit_tries = 3
${this.c.charonConf ?? ''}
  plugins { vici { socket = unix://${d}/charon.vici } }
  filelog {
    keys {
      path = ${d}/charon.log
      time_format = %T
      default = 1
      ike = 4
      chd = 4
      flush_line = yes
    }
  }
}
`);
    fs.writeFileSync(path.join(d, 'swanctl.conf'), this.c.swanctlConf !== undefined ? this.c.swanctlConf(this) : `connections {
  iip {
    version = 2
    mobike = no
    fragmentation = no
    local_addrs = ${this.addrC}
    remote_addrs = ${this.addrI}
    proposals = ${this.c.ike}
    local { auth = psk
      id = ${this.addrC} }
    remote { auth = psk
      id = ${this.addrI} }
    children {
      vl { mode = transport
        local_ts = dynamic[ipencap]
        remote_ts = dynamic[ipencap]
        esp_proposals = ${this.c.esp} }
    }
  }
}
secrets {
  ike-iip { id-a = ${this.addrC}
    id-b = ${this.addrI}
    secret = 0x${this.psk} }
}
`);
    const out = fs.openSync(path.join(d, 'stdout.log'), 'a');
    // The pid file path is compiled in (/var/run/charon.pid): a private /run per instance.
    this.charon = spawn('ip', ['netns', 'exec', this.nsC, 'unshare', '-m', 'sh', '-c',
      `mount --bind ${d}/run /run && exec env STRONGSWAN_CONF=${d}/strongswan.conf /usr/lib/ipsec/charon`], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const t0 = Date.now();
    while (!fs.existsSync(path.join(d, 'charon.vici'))) {
      if (Date.now() - t0 > 10000) throw new Error(`charon did not start:\n${fs.readFileSync(path.join(d, 'stdout.log'), 'utf8')}`);
      await sleep(50);
    }
    await this.swanctl(['--load-all', '--noprompt', '--file', path.join(d, 'swanctl.conf')]);
  }

  swanctl(args: string[], allowFail = false): Promise<{ code: number; stdout: string; stderr: string }> {
    return run('swanctl', [args[0]!, '--uri', `unix://${this.charonDir}/charon.vici`, ...args.slice(1)], { allowFail, timeoutMs: 30000 });
  }

  private async startIiptran(): Promise<void> {
    const cfg = path.join(this.dir, 'iiptran.yaml');
    const psk = path.join(this.dir, 'psk');
    fs.writeFileSync(psk, `0x${this.psk}\n`, { mode: 0o600 });
    fs.writeFileSync(cfg, [
      'node: iip',
      `control_socket: ${this.socket}`,
      'log_level: debug',
      'underlay:',
      `  address: ${this.addrI}`,
      'vlinks:',
      '  - name: vl-c',
      `    peer: ${this.addrC}`,
      ...(this.c.iiptranVlink !== undefined ? this.c.iiptranVlink(this).map((l) => `    ${l}`) : [
      '    address: 10.255.9.0/31',
      '    liveness: off',
      '    keying:',
      '      mode: ikev2',
      `      psk_file: ${psk}`,
      `      role: ${this.c.initiator === 'iiptran' ? 'initiator' : 'responder'}`,
      `      ike_proposals: [${this.c.ike}]`,
      `      esp_proposals: [${this.c.esp}]`]),
      '',
    ].join('\n'));
    this.iiptran = nsSpawn(this.nsI, ['env', `IIPTRAN_IKE_KEYLOG=${this.keyLog}`, process.execPath, CLI, 'node', '--config', cfg], this.iiptranLog);
    const t0 = Date.now();
    for (;;) {
      if (this.iiptran.exitCode !== null) throw new Error(`iiptran exited:\n${fs.readFileSync(this.iiptranLog, 'utf8')}`);
      try {
        await controlCall(this.socket, 'ping', {}, 1000);
        return;
      } catch {
        if (Date.now() - t0 > 15000) throw new Error(`iiptran did not start:\n${fs.readFileSync(this.iiptranLog, 'utf8')}`);
        await sleep(100);
      }
    }
  }

  show(what: string): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return controlCall(this.socket, 'show', { what }) as Promise<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  }

  async until(cond: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
    const t0 = Date.now();
    while (!(await cond())) {
      if (Date.now() - t0 > ms) throw new Error(`${what} not reached in ${ms} ms\n--- iiptran:\n${this.tail(this.iiptranLog)}\n--- charon:\n${this.tail(this.charonLog)}`);
      await sleep(100);
    }
  }

  tail(file: string, lines = 60): string {
    try {
      return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '(none)';
    }
  }

  /** iiptran's key log records. */
  keys(): Record<string, string>[] {
    if (!fs.existsSync(this.keyLog)) return [];
    return fs.readFileSync(this.keyLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>);
  }

  destroy(): void {
    for (const p of [this.iiptran, this.charon]) if (p !== null && p.exitCode === null) p.kill('SIGKILL');
    this.iiptran = null;
    this.charon = null;
    // charon runs under `ip netns exec ... unshare ... sh`: kill what is left in the namespace.
    try {
      const pids = execFileSync('ip', ['netns', 'pids', this.nsC], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean);
      for (const pid of pids) try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    } catch { /* namespace gone */ }
    delNsSync(this.nsI);
    delNsSync(this.nsC);
    process.off('exit', this.exitHook);
  }

  removeDir(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * charon's key dumps: a "<label> => N bytes @ 0x..." line, then lines of "  N: HH HH ..." hex.
 * Returns [label, hex] in log order.
 */
export function charonKeyDumps(file: string): [string, string][] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out: [string, string][] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /\[(?:IKE|CHD)\] (.+?) => (\d+) bytes @ (?:0x)?[0-9a-f]+\s*$/.exec(lines[i]!);
    if (m === null) continue;
    const want = 2 * Number(m[2]);
    let hex = '';
    for (let j = i + 1; j < lines.length && hex.length < want; j++) {
      const d = /\[(?:IKE|CHD)\]\s+\d+: ((?:[0-9A-F]{2} ?)+)/.exec(lines[j]!);
      if (d === null) break;
      hex += d[1]!.replace(/\s+/g, '').toLowerCase();
    }
    if (hex.length === want) out.push([m[1]!.trim(), hex]);
  }
  return out;
}

const ESP_SUITE: Record<string, Suite> = { aes256gcm16: 'aes-gcm-256', aes128gcm16: 'aes-gcm-128', chacha20poly1305: 'chacha20-poly1305' };

/** charon's labels for the IKE SA secrets, and the field of our key log that must match each. */
const IKE_SECRETS: [string, string][] = [
  ['SKEYSEED', 'skeyseed'], ['Sk_d secret', 'skD'], ['Sk_ei secret', 'skEi'], ['Sk_er secret', 'skEr'], ['Sk_pi secret', 'skPi'], ['Sk_pr secret', 'skPr'],
];

/**
 * The IKE SA secrets in our key log equal charon's (filelog ike = 4), and so do the CHILD_SA
 * keys: installed ones when charon initiated, else derived from our SK_d and nonces (charon as
 * responder refuses the CHILD_SA on this kernel after logging its keys, strongswan.md).
 */
export async function assertKeysEqualCharon(lab: CharonLab, sa: { spiI: string }, c: CharonCase): Promise<void> {
  await lab.until(() => charonKeyDumps(lab.charonLog).some(([l]) => l === 'encryption responder key'), 10000, 'charon CHILD_SA key dump');
  const dumps = charonKeyDumps(lab.charonLog);
  const ours = lab.keys();
  const ike = ours.find((r) => r['type'] === 'ike' && r['spiI'] === sa.spiI)!;
  assert.ok(ike, 'iiptran logged the IKE SA keys');
  for (const [label, field] of IKE_SECRETS) {
    const theirs = dumps.filter(([l]) => l === label).map(([, h]) => h);
    assert.ok(theirs.includes(ike[field]!), `${label}: iiptran ${ike[field]} not among charon's ${theirs.join(', ')}`);
  }
  // charon logs initiator->responder first, then responder->initiator.
  const encI = dumps.filter(([l]) => l === 'encryption initiator key').pop()![1];
  const encR = dumps.filter(([l]) => l === 'encryption responder key').pop()![1];
  if (c.initiator === 'charon') {
    const child = ours.find((r) => r['type'] === 'child')!;
    assert.ok(child, 'iiptran installed (and logged) a CHILD_SA');
    assert.equal(child['suite'], ESP_SUITE[c.esp]);
    assert.equal(child['keyIn'], encI, 'our inbound = charon initiator -> us');
    assert.equal(child['keyOut'], encR, 'our outbound = us -> charon initiator');
  } else {
    const k = childSaKeys(Number(ike['prf']) as PrfId, Buffer.from(ike['skD']!, 'hex'), ESP_SUITE[c.esp]!, Buffer.from(ike['ni']!, 'hex'), Buffer.from(ike['nr']!, 'hex'));
    assert.equal(childKeymat(k.initiatorToResponder).toString('hex'), encI);
    assert.equal(childKeymat(k.responderToInitiator).toString('hex'), encR);
  }
}
