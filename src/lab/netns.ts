// Thin helpers over iproute2 for labs and tests: namespaces, veths, commands inside a
// namespace. Setup-time only (never on a packet path), so subprocesses are fine here.

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import { IiptranError } from '../errors.js';

const pexec = promisify(execFile);

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function run(cmd: string, args: string[], opts: { timeoutMs?: number; allowFail?: boolean } = {}): Promise<ExecResult> {
  try {
    const r = await pexec(cmd, args, { timeout: opts.timeoutMs ?? 30000, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string; message: string };
    const res = { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? err.message };
    if (opts.allowFail) return res;
    throw new IiptranError('IIPTRAN_ERR_LAB', `${cmd} ${args.join(' ')} failed (${res.code}): ${res.stderr.trim()}`);
  }
}

export function nsExec(ns: string, argv: string[], opts: { timeoutMs?: number; allowFail?: boolean } = {}): Promise<ExecResult> {
  return run('ip', ['netns', 'exec', ns, ...argv], opts);
}

export function nsSpawn(ns: string, argv: string[], logFile: string): ChildProcess {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', fd, fd], detached: false });
  fs.closeSync(fd);
  return child;
}

export async function addNs(ns: string): Promise<void> {
  await run('ip', ['netns', 'add', ns]);
  await nsExec(ns, ['ip', 'link', 'set', 'lo', 'up']);
}

/** Removes a namespace synchronously so it can run from exit handlers; ignores absence. */
export function delNsSync(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
}

export async function listNs(): Promise<string[]> {
  const r = await run('ip', ['-j', 'netns', 'list'], { allowFail: true });
  if (r.code !== 0 || r.stdout.trim() === '') return [];
  return (JSON.parse(r.stdout) as { name: string }[]).map((n) => n.name);
}

/** A veth pair with one end in each namespace, addressed and up. */
export async function vethPair(nsA: string, ifA: string, addrA: string, nsB: string, ifB: string, addrB: string, mtu = 1500): Promise<void> {
  await run('ip', ['link', 'add', ifA, 'netns', nsA, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB, 'mtu', String(mtu)]);
  // An IPv6 address is usable at once: no duplicate address detection on a two-end veth.
  const nodad = (a: string) => (a.includes(':') ? ['nodad'] : []);
  await nsExec(nsA, ['ip', 'addr', 'add', addrA, 'dev', ifA, ...nodad(addrA)]);
  await nsExec(nsB, ['ip', 'addr', 'add', addrB, 'dev', ifB, ...nodad(addrB)]);
  await nsExec(nsA, ['ip', 'link', 'set', ifA, 'up']);
  await nsExec(nsB, ['ip', 'link', 'set', ifB, 'up']);
}

/** Parses `ping -q` output: packets received and average RTT in ms. */
export function parsePing(out: string): { sent: number; received: number; avgMs: number | null } {
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(out);
  return { sent: m ? Number(m[1]) : 0, received: m ? Number(m[2]) : 0, avgMs: rtt ? Number(rtt[1]) : null };
}
