// Shared bits for the netns tests: unique names, root check, program checks, a capture wrapper.

import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { nsExec } from '../../src/lab/netns.js';
import { PROGRAMS, aptFix, missingPrograms, type ProgramInfo } from '../../src/tools/doctor-programs.js';

export function uniquePrefix(tag: string): string {
  return `iit${tag}${process.pid % 100000}${Math.floor(Math.random() * 1000)}`;
}

export const isRoot = process.getuid?.() === 0;

export interface RequireOptions {
  root?: boolean;
  /** CI=true: nothing may be skipped for want of root or a program. */
  ci?: boolean;
  table?: Readonly<Record<string, ProgramInfo>>;
}

/**
 * For a test that runs outside programs. When one is missing: a skip reason on a non-root run
 * outside CI (a developer's unit run), otherwise an immediate throw naming the Debian package,
 * so the file fails at once instead of timing out or being skipped where it must run.
 */
export function requirePrograms(programs: readonly string[], o: RequireOptions = {}): string | false {
  const root = o.root ?? isRoot;
  const ci = o.ci ?? process.env.CI === 'true';
  const missing = missingPrograms(programs, o.table ?? PROGRAMS);
  if (missing.length === 0) return false;
  const list = missing.map((m) => `${m.what} (Debian package ${m.pkg})`).join(', ');
  if (!root && !ci) return `not installed: ${list}`;
  throw new Error(`this test needs ${list}: run scripts/setup.sh, or ${aptFix(missing.map((m) => m.pkg))}`);
}

/**
 * The `skip` of a netns test file: it needs root, and `programs`. Skipping is only for a non-root
 * run outside CI; as root, or under CI=true, a missing program or missing root is a failure.
 */
export function netnsSkip(programs: readonly string[], o: RequireOptions = {}): string | false {
  const root = o.root ?? isRoot;
  const ci = o.ci ?? process.env.CI === 'true';
  if (!root && ci) throw new Error('CI=true but not running as root: the netns tests need root (network namespaces, TUN)');
  const missing = requirePrograms(programs, { ...o, root, ci });
  if (!root) return `needs root (network namespaces, TUN)${missing === false ? '' : `; also ${missing}`}`;
  return false;
}

/** tcpdump in a namespace; stop() returns the pcap path once the file is flushed. */
export async function capture(ns: string, iface: string, file: string, filter: string[] = []): Promise<{ stop: () => Promise<string> }> {
  const p = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '--immediate-mode', '-i', iface, '-U', '-n', '-s', '0', '-w', file, ...filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  p.stderr.on('data', (d) => (err += String(d)));
  // tcpdump prints "listening on" once the socket is attached; only then is capture live.
  const t0 = Date.now();
  while (!err.includes('listening on')) {
    if (p.exitCode !== null || Date.now() - t0 > 5000) throw new Error(`tcpdump did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    stop: async () => {
      // Let the last packets of the traffic under test reach the ring before stopping.
      await new Promise((r) => setTimeout(r, 200));
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGINT');
      await done;
      return file;
    },
  };
}

export async function tshark(args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('tshark', args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += String(d)));
    p.stderr.on('data', (d) => (err += String(d)));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`tshark ${args.join(' ')}: ${err}`))));
  });
}

/** Sends datagrams from inside a namespace using a tiny node script (no extra tools needed). */
export async function sendUdp(ns: string, from: string, to: string, port: number, hexPayloads: string[]): Promise<void> {
  const file = path.join(fs.mkdtempSync('/tmp/iit-send-'), 'p.json');
  fs.writeFileSync(file, JSON.stringify(hexPayloads));
  const script = `
    const dgram = require('node:dgram'); const fs = require('node:fs');
    const ps = JSON.parse(fs.readFileSync(${JSON.stringify(file)}, 'utf8'));
    const s = dgram.createSocket(${JSON.stringify(from.includes(':') ? 'udp6' : 'udp4')});
    s.bind({ address: ${JSON.stringify(from)}, port: 0 }, async () => {
      for (const h of ps) await new Promise((r) => s.send(Buffer.from(h, 'hex'), ${port}, ${JSON.stringify(to)}, r));
      s.close();
    });`;
  await nsExec(ns, [process.execPath, '-e', script], { timeoutMs: 60000 });
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}
