// A fresh pair of network namespaces A and B joined by one veth: the underlay
// 10.201.0.1/24 (A) <-> 10.201.0.2/24 (B), MTU 1500. Nothing leaves these namespaces.

import { BgProcess, run, runOk, runSyncQuiet, sleep, type RunOptions, type RunResult } from './proc.js';

export const UNDERLAY_A = '10.201.0.1';
export const UNDERLAY_B = '10.201.0.2';
export const UNDERLAY_PREFIX = 24;
export const UNDERLAY_MTU = 1500;
/** Interface names inside the namespaces (names are per-namespace, so no clash between runs). */
export const VETH_A = 'ul0';
export const VETH_B = 'ul0';

/** Every namespace this process created and has not deleted yet (for the SIGINT handler). */
const created = new Set<string>();

export type Side = 'a' | 'b';

export class NsPair {
  readonly a: string;
  readonly b: string;
  private readonly procs: BgProcess[] = [];

  private constructor(tag: string) {
    this.a = `iib-${process.pid}-${tag}-a`;
    this.b = `iib-${process.pid}-${tag}-b`;
  }

  static async create(tag: string): Promise<NsPair> {
    const p = new NsPair(tag);
    try {
      for (const ns of [p.a, p.b]) {
        // A leftover from a crashed run with the same pid would make `netns add` fail.
        await run('ip', ['netns', 'del', ns]);
        await runOk('ip', ['netns', 'add', ns]);
        created.add(ns);
        await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      }
      await runOk('ip', ['link', 'add', VETH_A, 'netns', p.a, 'type', 'veth', 'peer', 'name', VETH_B, 'netns', p.b]);
      for (const [ns, dev, addr] of [
        [p.a, VETH_A, UNDERLAY_A],
        [p.b, VETH_B, UNDERLAY_B],
      ] as const) {
        await runOk('ip', ['-n', ns, 'link', 'set', dev, 'mtu', String(UNDERLAY_MTU), 'up']);
        await runOk('ip', ['-n', ns, 'addr', 'add', `${addr}/${UNDERLAY_PREFIX}`, 'dev', dev]);
      }
      await p.waitPing('a', UNDERLAY_B, 5000, 'underlay veth');
    } catch (err) {
      await p.destroy();
      throw err;
    }
    return p;
  }

  ns(side: Side): string {
    return side === 'a' ? this.a : this.b;
  }

  /** Run a command inside a namespace. */
  exec(side: Side, cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.ns(side), cmd, ...args], opts);
  }

  execOk(side: Side, cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
    return runOk('ip', ['netns', 'exec', this.ns(side), cmd, ...args], opts);
  }

  /** Start a long-lived process inside a namespace; it is stopped by destroy(). */
  spawn(side: Side, label: string, cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): BgProcess {
    // `ip netns exec` setns()es and then execs the command, so the child pid is the command itself.
    const p = new BgProcess(label, 'ip', ['netns', 'exec', this.ns(side), cmd, ...args], env);
    this.procs.push(p);
    return p;
  }

  /** Poll with single pings until `addr` answers from `side`, or throw after `timeoutMs`. */
  async waitPing(side: Side, addr: string, timeoutMs: number, what: string, alive?: BgProcess[]): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const r = await this.exec(side, 'ping', ['-c', '1', '-W', '1', '-n', addr], { timeoutMs: 3000 });
      if (r.code === 0) return;
      last = (r.stdout + r.stderr).trim().split('\n').slice(-2).join(' / ');
      for (const p of alive ?? []) {
        // Callers append the processes' output to the error themselves.
        if (!p.running) throw new Error(`${p.label} exited (${p.exitInfo?.code ?? p.exitInfo?.signal}) before ${what} passed ping`);
      }
      await sleep(200);
    }
    throw new Error(`${what}: no ping reply from ${addr} within ${timeoutMs / 1000} s (last: ${last})`);
  }

  /** Stop tracked processes, kill anything else left in the namespaces, delete them. */
  async destroy(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop(2000).catch(() => undefined)));
    for (const ns of [this.a, this.b]) {
      if (!created.has(ns)) continue;
      const pids = (await run('ip', ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await run('ip', ['netns', 'del', ns]);
      created.delete(ns);
    }
  }
}

/** A lone namespace with lo up, tracked like a pair's (for the scaling row's star). */
export async function createNs(name: string): Promise<void> {
  await run('ip', ['netns', 'del', name]);
  await runOk('ip', ['netns', 'add', name]);
  created.add(name);
  await runOk('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Kill what runs in a namespace created here and delete it. */
export async function destroyNs(name: string): Promise<void> {
  if (!created.has(name)) return;
  for (const pid of (await run('ip', ['netns', 'pids', name])).stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await run('ip', ['netns', 'del', name]);
  created.delete(name);
}

/** Synchronous last-resort cleanup of every namespace we created (SIGINT / uncaught error). */
export function destroyAllSync(): void {
  for (const ns of created) {
    for (const pid of runSyncQuiet('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    runSyncQuiet('ip', ['netns', 'del', ns]);
  }
  created.clear();
}
