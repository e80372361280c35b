// The measurements: iperf3 TCP throughput (both directions) and ping RTT (idle and under load).

import { Meter, type DaemonUsage } from './meter.js';
import type { NsPair } from './netns.js';
import { sleep } from './proc.js';

export interface PingStats {
  sent: number;
  received: number;
  lossPct: number;
  minMs: number;
  avgMs: number;
  maxMs: number;
  mdevMs: number;
  /** Median of the individual replies: robust to the few multi-ms outliers a loaded host adds. */
  medianMs: number;
}

export interface ThroughputResult {
  /** end.sum_received.bits_per_second, in Mbit/s. */
  mbps: number;
  /** end.sum_sent.retransmits (TCP retransmissions seen by the sender), when reported. */
  retransmits: number | undefined;
  /** start.tcp_mss_default: the MSS the sender's TCP used (after any MSS clamping). */
  mss: number | undefined;
  /**
   * The tunnel daemons (A, B) from the end of the omitted second to the end of the run: CPU
   * seconds per GB received (CPU rate over throughput, both from that window) and peak RSS.
   */
  daemons?: Array<DaemonUsage & { cpuSPerGB: number }>;
}

export const PING_COUNT = 200;
export const PING_INTERVAL_S = '0.005';

/** Parse ping's summary, and its per-reply lines for the median when it printed them. */
export function parsePing(out: string): PingStats {
  const pk = out.match(/(\d+) packets transmitted, (\d+) (?:packets )?received.*?([\d.]+)% packet loss/);
  if (!pk) throw new Error(`cannot parse ping output: ${out.trim().slice(-300)}`);
  const rtt = out.match(/= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/);
  if (!rtt) throw new Error(`ping got no replies (${pk[0]})`);
  return {
    sent: Number(pk[1]),
    received: Number(pk[2]),
    lossPct: Number(pk[3]),
    minMs: Number(rtt[1]),
    avgMs: Number(rtt[2]),
    maxMs: Number(rtt[3]),
    mdevMs: Number(rtt[4]),
    medianMs: median([...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]))) ?? Number(rtt[2]),
  };
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Pings sent and thrown away before the idle RTT is measured, for every contender alike. */
export const PING_WARMUP = 100;

/**
 * `ping -c 200 -i 0.005` from A to `addr`. With `warmup`, PING_WARMUP pings first, not counted:
 * the idle RTT is then the tunnel's steady state, not its first packets (JIT, caches, ARP).
 */
export async function ping(pair: NsPair, addr: string, warmup = false): Promise<PingStats> {
  if (warmup) {
    await pair.exec('a', 'ping', ['-n', '-q', '-c', String(PING_WARMUP), '-i', PING_INTERVAL_S, '-W', '2', addr], { timeoutMs: 30_000 });
  }
  const r = await pair.exec('a', 'ping', ['-n', '-c', String(PING_COUNT), '-i', PING_INTERVAL_S, '-W', '2', addr], {
    timeoutMs: 30_000,
  });
  // ping exits 1 when some replies were lost; parsePing still reports the loss.
  return parsePing(r.stdout + r.stderr);
}

export interface IperfOptions {
  seconds: number;
  reverse: boolean;
  /** Called when the measured (non-omitted) part of the test starts; used for the loaded ping. */
  duringLoad?: () => Promise<void>;
  /** Tunnel daemons to meter (CPU, RSS) over the measured part. */
  pids?: readonly number[];
}

/**
 * iperf3 server in B bound to `addr` (`-s -1 -B addr --forceflush`, so "Server listening" is not stuck in a pipe buffer), client in A: `iperf3 -c addr -t N -O 1 -J [-R]`.
 * Returns end.sum_received.bits_per_second (the receiver's view, whichever side that is).
 */
export async function iperf(pair: NsPair, addr: string, opts: IperfOptions): Promise<ThroughputResult> {
  const server = pair.spawn('b', `iperf3 server (${addr})`, 'iperf3', ['-s', '-1', '-B', addr, '--forceflush']);
  try {
    await server.waitFor(/Server listening/, 5000);
    const args = ['-c', addr, '-t', String(opts.seconds), '-O', '1', '-J', '--connect-timeout', '3000'];
    if (opts.reverse) args.push('-R');
    const clientP = pair.exec('a', 'iperf3', args, { timeoutMs: (opts.seconds + 30) * 1000 });
    let loadP: Promise<void> | undefined;
    if (opts.duringLoad) {
      const cb = opts.duringLoad;
      // 1 s omitted (-O 1) + ~0.5 s connection setup: start measuring at steady state.
      loadP = sleep(1500).then(cb);
    }
    const meter = opts.pids && opts.pids.length > 0 ? new Meter(opts.pids) : undefined;
    let meterT0 = 0;
    const meterP = meter ? sleep(1500).then(() => meter.start()).then(() => void (meterT0 = Date.now())) : undefined;
    const [client] = await Promise.all([clientP, loadP, meterP]);
    const usage = meter ? await meter.stop() : undefined;
    const wallS = (Date.now() - meterT0) / 1000;
    let j: {
      error?: string;
      start?: { tcp_mss_default?: number };
      end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { retransmits?: number } };
    };
    try {
      j = JSON.parse(client.stdout) as typeof j;
    } catch {
      throw new Error(`iperf3 client (exit ${client.code}) printed no JSON: ${(client.stderr || client.stdout).trim().slice(-400)}`);
    }
    if (j.error) throw new Error(`iperf3: ${j.error}`);
    const bps = j.end?.sum_received?.bits_per_second;
    if (typeof bps !== 'number') throw new Error('iperf3 JSON lacks end.sum_received.bits_per_second');
    const gbPerS = bps / 8 / 1e9;
    return {
      mbps: bps / 1e6,
      retransmits: j.end?.sum_sent?.retransmits,
      mss: j.start?.tcp_mss_default,
      ...(usage ? { daemons: usage.map((u) => ({ ...u, cpuSPerGB: u.cpuS / wallS / gbPerS })) } : {}),
    };
  } finally {
    await server.stop(1000);
  }
}
