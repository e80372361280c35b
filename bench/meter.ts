// CPU time and memory of a tunnel's two daemons, read from /proc while iperf3 runs: CPU seconds
// per GB moved says what each end pays for the throughput, RSS what it holds while doing so.

import { readFile } from 'node:fs/promises';

/** Clock ticks per second for /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const CLK_TCK = 100;
const RSS_SAMPLE_MS = 250;

/** utime + stime of `pid` in seconds, or undefined once it is gone. */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** VmRSS of `pid` in MiB, or undefined once it is gone. */
export async function rssMiB(pid: number): Promise<number | undefined> {
  try {
    const m = (await readFile(`/proc/${pid}/status`, 'utf8')).match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface DaemonUsage {
  /** CPU seconds (user + system) the daemon used during the measured interval. */
  cpuS: number;
  /** Largest VmRSS sampled during the interval, MiB. */
  rssMaxMiB: number;
}

/** Meters a set of processes from start() to stop(). */
export class Meter {
  private readonly cpu0 = new Map<number, number>();
  private readonly rss = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pids: readonly number[]) {}

  async start(): Promise<void> {
    for (const p of this.pids) {
      this.cpu0.set(p, (await cpuSeconds(p)) ?? 0);
      this.rss.set(p, (await rssMiB(p)) ?? 0);
    }
    this.timer = setInterval(() => void this.sample(), RSS_SAMPLE_MS);
  }

  private async sample(): Promise<void> {
    for (const p of this.pids) {
      const r = await rssMiB(p);
      if (r !== undefined && r > (this.rss.get(p) ?? 0)) this.rss.set(p, r);
    }
  }

  async stop(): Promise<DaemonUsage[]> {
    clearInterval(this.timer);
    await this.sample();
    const out: DaemonUsage[] = [];
    for (const p of this.pids) {
      const c = (await cpuSeconds(p)) ?? this.cpu0.get(p)!;
      out.push({ cpuS: c - this.cpu0.get(p)!, rssMaxMiB: this.rss.get(p)! });
    }
    return out;
  }
}
