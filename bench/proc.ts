// Process helpers for the benchmark: one-shot commands with a timeout, and long-lived
// background processes that are tracked so that a SIGINT (or a crash) can kill them.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  input?: string;
}

/** Run a command to completion (or timeout), capturing stdout/stderr. Never throws on exit code. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, {
        env: opts.env ?? process.env,
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
    } catch (err) {
      reject(err);
      return;
    }
    live.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs);
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      live.delete(child);
      reject(err);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Like run() but throws a descriptive error unless the command exits 0. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const why = r.timedOut ? `timed out after ${opts.timeoutMs} ms` : `exit ${r.code ?? r.signal}`;
    throw new Error(`\`${[cmd, ...args].join(' ')}\` failed (${why}): ${(r.stderr || r.stdout).trim().slice(-800)}`);
  }
  return r.stdout;
}

/** Synchronous variant for cleanup paths (SIGINT handler). Ignores failures. */
export function runSyncQuiet(cmd: string, args: readonly string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  return r.stdout ?? '';
}

const live = new Set<ChildProcess>();

/** A long-running background process with a bounded log of its output. */
export class BgProcess {
  readonly child: ChildProcess;
  private out = '';
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private waiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];

  constructor(
    readonly label: string,
    cmd: string,
    args: readonly string[],
    env?: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(cmd, args, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.child);
    const onData = (d: string): void => {
      this.out += d;
      if (this.out.length > 64_000) this.out = this.out.slice(-32_000);
      for (const w of [...this.waiters]) {
        const m = this.out.match(w.re);
        if (m) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    };
    this.child.stdout!.setEncoding('utf8').on('data', onData);
    this.child.stderr!.setEncoding('utf8').on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.out += `\n[spawn error: ${err.message}]`;
        live.delete(this.child);
        this.exitInfo = { code: -1, signal: null };
        resolve(this.exitInfo);
      });
      this.child.on('close', (code, signal) => {
        live.delete(this.child);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  get output(): string {
    return this.out;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** The last `n` characters of combined stdout+stderr, for error messages. */
  tail(n = 1500): string {
    const t = this.out.trim();
    return t.length > n ? '…' + t.slice(-n) : t;
  }

  /** Resolve when the output matches `re`; reject on exit or timeout. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const m = this.out.match(re);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const w = { re, resolve: (mm: RegExpMatchArray) => done(() => resolve(mm)) };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${re}`))),
        timeoutMs,
      );
      let settled = false;
      const done = (f: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        f();
      };
      this.waiters.push(w);
      void this.exited.then((e) =>
        done(() => reject(new Error(`${this.label} exited (${e.code ?? e.signal}) before ${re}: ${this.tail(600)}`))),
      );
    });
  }

  wait(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** Kill every process this module spawned and that is still alive (used on SIGINT). */
export function killAllLive(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
