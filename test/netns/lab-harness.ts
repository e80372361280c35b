// Shared by the lab-*.test.ts files: runs the real `iiptran lab` CLI on the shipped
// topologies (renamed per run so parallel runs and a leftover lab never collide), and checks
// that nothing of a lab survives `lab down`.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { REPO_ROOT } from '../../src/lab/pair-lab.js';
import { listNs, nsExec } from '../../src/lab/netns.js';
import { readState, labDir, type LabState } from '../../src/lab/state.js';
import { labNsPrefix } from '../../src/lab/topology-model.js';

const CLI = path.join(REPO_ROOT, 'bin', 'iiptran.js');
/** Recognisable ping payload: if it appears in an underlay capture, VN cleartext leaked. */
export const PATTERN = 'c0ffee15deadbeef';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 120000): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += String(d)));
    p.stderr.on('data', (d) => (stderr += String(d)));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** A copy of topologies/<file> under a unique lab name (≤ 12 chars). */
export function topologyCopy(file: string, tag: string, edit: (text: string) => string = (t) => t): { name: string; file: string } {
  const name = `${tag}${process.pid % 100000}${Math.floor(Math.random() * 100)}`.slice(0, 12);
  const text = edit(fs.readFileSync(path.join(REPO_ROOT, 'topologies', file), 'utf8').replace(/^name: .*$/m, `name: ${name}`));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iil-test-'));
  const out = path.join(dir, file);
  fs.writeFileSync(out, text);
  return { name, file: out };
}

/** `edit`: a change to the topology's text (a variant of a shipped file), applied to the copy. */
export async function labUp(file: string, tag: string, env: Record<string, string> = {}, edit?: (text: string) => string): Promise<{ name: string; state: LabState; out: CliResult }> {
  const t = topologyCopy(file, tag, edit);
  const out = await cli(['lab', 'up', t.file, '--timeout', '60'], env);
  const state = readState(t.name);
  if (out.code !== 0 || state === null) {
    await cli(['lab', 'down', t.name]);
    throw new Error(`lab up ${file} failed (${out.code}):\n${out.stdout}\n${out.stderr}`);
  }
  return { name: t.name, state, out };
}

/** Nothing left: namespaces, /etc/netns entries, the state dir, or processes naming the lab dir. */
export async function assertGone(name: string): Promise<void> {
  const prefix = labNsPrefix(name);
  assert.deepEqual((await listNs()).filter((n) => n.startsWith(prefix)), [], 'namespaces left behind');
  const etc = fs.existsSync('/etc/netns') ? fs.readdirSync('/etc/netns').filter((d) => d.startsWith(prefix)) : [];
  assert.deepEqual(etc, [], '/etc/netns entries left behind');
  assert.equal(fs.existsSync(labDir(name)), false, 'lab dir left behind');
  const procs: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(labDir(name) + '/')) procs.push(`${pid}: ${cmd.replace(/\0/g, ' ')}`);
    } catch {
      /* exited */
    }
  }
  assert.deepEqual(procs, [], 'processes left behind');
  // Interfaces live and die with their namespaces; also make sure none leaked into the root namespace.
  const links = (await nsExecRoot(['ip', '-o', 'link', 'show'])).split('\n').filter((l) => / (vl-|u-|p-)[a-z0-9-]+[@:]/.test(l));
  assert.deepEqual(links, [], 'lab interfaces in the root namespace');
}

async function nsExecRoot(argv: string[]): Promise<string> {
  const { run } = await import('../../src/lab/netns.js');
  return (await run(argv[0]!, argv.slice(1))).stdout;
}

export function node(s: LabState, name: string): LabState['model']['nodes'][number] {
  return s.model.nodes.find((n) => n.name === name)!;
}

export async function vnPing(s: LabState, from: string, to: string, count = 3, pattern = PATTERN): Promise<number> {
  const a = node(s, from);
  const b = node(s, to);
  const r = await nsExec(a.ns, ['ping', '-c', String(count), '-i', '0.05', '-W', '2', '-p', pattern, '-I', a.vnAddr, b.vnAddr], { allowFail: true });
  const m = /(\d+) received/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

export async function waitFor(cond: () => Promise<boolean>, what: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The device the kernel would send VN traffic from `from` to `to` by (IPv6: to its IPv6 VN address). */
export async function routeDev(s: LabState, from: string, to: string, family: 4 | 6 = 4): Promise<string> {
  const r = await nsExec(node(s, from).ns, ['ip', '-j', 'route', 'get', family === 6 ? node(s, to).vnAddr6! : node(s, to).vnAddr]);
  return (JSON.parse(r.stdout) as { dev: string }[])[0]!.dev;
}

/**
 * A fast ping stream (-D timestamps each reply); the outage is the longest gap between two
 * consecutive replies, which does not depend on how fast ping manages to send.
 */
export function pingStream(s: LabState, from: string, to: string, family: 4 | 6 = 4): { stop: () => Promise<{ outageMs: number; replies: number; sent: number }> } {
  const a = node(s, from);
  const [src, dst] = family === 6 ? [a.vnAddr6!, node(s, to).vnAddr6!] : [a.vnAddr, node(s, to).vnAddr];
  const p = spawn('ip', ['netns', 'exec', a.ns, 'ping', `-${family}`, '-D', '-n', '-i', '0.01', '-W', '1', '-I', src, dst], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  p.stdout.on('data', (d) => (out += String(d)));
  return {
    stop: async () => {
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGINT');
      await done;
      const times = [...out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)/gm)].map((m) => Number(m[1]) * 1000);
      let gap = 0;
      for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
      const sent = Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? 0);
      return { outageMs: Math.round(gap), replies: times.length, sent };
    },
  };
}
