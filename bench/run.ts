// `npm run bench`: TCP throughput and ping RTT of the iiptran overlay vs raw veth, OpenVPN and
// wireguard-go, each in a fresh pair of network namespaces, in one run. See docs/benchmark.md.
//
//   node dist/bench/run.js [--only veth,openvpn,wireguard-go,iiptran-udp,iiptran-esp] [--time 8] [--json]

import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Contender } from './contender.js';
import { iperf, ping, PING_COUNT, PING_INTERVAL_S, PING_WARMUP, type PingStats, type ThroughputResult } from './measure.js';
import { destroyAllSync, NsPair } from './netns.js';
import { openvpn } from './openvpn.js';
import { daemonNodeArgs, iiptran } from './overlay.js';
import { killAllLive, run } from './proc.js';
import { benchSetup, which } from './setup.js';
import { measureScale, SCALE_VLINKS, type ScaleResult } from './scale.js';
import { veth } from './veth.js';
import { wireguardGo } from './wireguard.js';

const ALL: Contender[] = [veth, openvpn, wireguardGo, iiptran('udp'), iiptran('esp')];
/**
 * Rows that run only when named: the UDP row with a part of the data path switched off, to see
 * what each part is worth in one run (README "Data path" lists the switches).
 */
const VARIANTS: Contender[] = [
  iiptran('udp', { suffix: 'nooffload', tag: 'no', env: { IIPTRAN_OFFLOAD: '0' } }),
  iiptran('udp', { suffix: 'jscrypto', tag: 'js', env: { IIPTRAN_NATIVE_CRYPTO: '0' } }),
  iiptran('udp', { suffix: 'plain', tag: 'pl', env: { IIPTRAN_OFFLOAD: '0', IIPTRAN_NATIVE_CRYPTO: '0' } }),
  iiptran('udp', { suffix: 'nofast', tag: 'nf', env: { IIPTRAN_FASTPATH: '0' } }),
];
/** The scaling row: one node, 30 vlinks to 30 peers, all loaded at once (scale.ts). */
const SCALE = 'iiptran-30vlinks';
const ALIASES: Record<string, string[]> = {
  iiptran: ['iiptran-udp', 'iiptran-esp'],
  variants: VARIANTS.map((c) => c.name),
  wireguard: ['wireguard-go'],
  wg: ['wireguard-go'],
  ovpn: ['openvpn'],
  all: [...ALL.map((c) => c.name), SCALE],
};
const BASELINE = 'veth';
const VERDICT_SUBJECT = 'iiptran-udp';
const VERDICT_REFERENCES = ['openvpn', 'wireguard-go'];
const ISSUE_BAR = 1.2;

export interface Row {
  name: string;
  ok: boolean;
  error?: string;
  detail?: string;
  /** The data path the tunnel reported (iiptran: offloads, crypto, TUN drops). */
  path?: string;
  target?: string;
  tcpAtoB?: ThroughputResult;
  tcpBtoA?: ThroughputResult;
  pingIdle?: PingStats;
  /** ping A->B while the A->B iperf3 runs. */
  pingLoadedAtoB?: PingStats;
  /** ping A->B while the B->A (-R) iperf3 runs. */
  pingLoadedBtoA?: PingStats;
  /** Non-fatal problems (e.g. the loaded ping failed). */
  warnings: string[];
  seconds: number;
}

interface Ratio {
  atob: number;
  btoa: number;
}

const log = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`);

function usage(): string {
  return [
    'usage: node dist/bench/run.js [options]   (must run as root)',
    `  --only LIST   comma-separated contenders (default all): ${[...ALL.map((c) => c.name), SCALE].join(',')}`,
    `                aliases: ${Object.keys(ALIASES).join(', ')}`,
    '  --time N      iperf3 seconds per direction (default 8; plus 1 s omitted warm-up)',
    '  --json        print machine-readable JSON on stdout instead of the table',
    '  --profile DIR run the iiptran daemons with --cpu-prof, profiles in DIR/<contender>-<a|b>/',
    '  --base DIR    add a row iiptran-udp-base running DIR/bin/iiptran.js (another checkout, built):',
    '                before/after a change in one run',
    `  variants (only when named): ${VARIANTS.map((c) => c.name).join(', ')}`,
    '  -h, --help    this text',
  ].join('\n');
}

async function measureContender(c: Contender, root: string, seconds: number): Promise<Row> {
  const t0 = Date.now();
  const row: Row = { name: c.name, ok: false, warnings: [], seconds: 0 };
  let pair: NsPair | undefined;
  try {
    const missing = [];
    for (const exe of c.requires) if (!(await which(exe))) missing.push(exe);
    if (missing.length) throw new Error(`not installed: ${missing.join(', ')}`);
    const dir = join(root, c.name);
    await mkdir(dir, { mode: 0o700 });
    pair = await NsPair.create(c.tag);
    log(`${c.name}: namespaces ${pair.a} / ${pair.b} up, setting up tunnel`);
    const tun = await c.setup(pair, dir);
    row.detail = tun.detail;
    row.target = tun.target;
    const p = pair;
    log(`${c.name}: tunnel passes ping to ${tun.target}; ${tun.detail}`);

    row.pingIdle = await ping(p, tun.target, true);
    log(`${c.name}: idle ping avg ${row.pingIdle.avgMs} ms, median ${row.pingIdle.medianMs} ms (loss ${row.pingIdle.lossPct}%)`);

    const loaded = (key: 'pingLoadedAtoB' | 'pingLoadedBtoA') => async (): Promise<void> => {
      try {
        row[key] = await ping(p, tun.target);
      } catch (err) {
        row.warnings.push(`loaded ping (${key}): ${(err as Error).message}`);
      }
    };
    const pids = tun.pids;
    row.tcpAtoB = await iperf(p, tun.target, { seconds, reverse: false, duringLoad: loaded('pingLoadedAtoB'), ...(pids ? { pids } : {}) });
    log(`${c.name}: TCP A→B ${row.tcpAtoB.mbps.toFixed(1)} Mbit/s`);
    row.tcpBtoA = await iperf(p, tun.target, { seconds, reverse: true, duringLoad: loaded('pingLoadedBtoA'), ...(pids ? { pids } : {}) });
    log(`${c.name}: TCP B→A ${row.tcpBtoA.mbps.toFixed(1)} Mbit/s`);
    if (tun.path) row.path = await tun.path().catch((e: Error) => `? (${e.message})`);
    await tun.close?.();
    row.ok = true;
  } catch (err) {
    row.error = (err as Error).message;
    log(`${c.name}: FAILED: ${row.error}`);
  } finally {
    await pair?.destroy().catch((e: Error) => row.warnings.push(`cleanup: ${e.message}`));
    row.seconds = (Date.now() - t0) / 1000;
  }
  return row;
}

/** row ÷ ref throughput, per direction; undefined for the baseline row itself and for failures. */
function ratio(row: Row | undefined, ref: Row | undefined): Ratio | undefined {
  if (!row?.ok || !ref?.ok || row === ref || row.name === BASELINE) return undefined;
  return { atob: row.tcpAtoB!.mbps / ref.tcpAtoB!.mbps, btoa: row.tcpBtoA!.mbps / ref.tcpBtoA!.mbps };
}

const fmtRatio = (r: Ratio | undefined): string => (r ? `${r.atob.toFixed(2)}/${r.btoa.toFixed(2)}×` : '—');
const fmtMbps = (t: ThroughputResult | undefined): string => (t ? t.mbps.toFixed(1) : '—');
const fmtPing = (p: PingStats | undefined): string =>
  p ? `${p.avgMs.toFixed(3)}±${p.mdevMs.toFixed(3)}${p.lossPct > 0 ? ` (${p.lossPct}% loss)` : ''}` : '—';
const fmtMedian = (p: PingStats | undefined): string => (p ? p.medianMs.toFixed(3) : '—');
const fmtLoaded = (a: PingStats | undefined, b: PingStats | undefined): string =>
  `${a ? a.avgMs.toFixed(2) : '—'}/${b ? b.avgMs.toFixed(2) : '—'}${(a?.lossPct ?? 0) + (b?.lossPct ?? 0) > 0 ? ` (loss ${a?.lossPct ?? '—'}/${b?.lossPct ?? '—'}%)` : ''}`;

/** Rows with a single cell after the name (failures) do not widen the columns. */
function table(header: string[], rows: string[][]): string {
  const full = rows.filter((r) => r.length === header.length);
  const w = header.map((h, i) => Math.max(h.length, ...full.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

function scaleLines(r: ScaleResult | undefined, error: string | undefined): string[] {
  if (error !== undefined) return [`${SCALE}: failed: ${error.split('\n')[0]}`, ''];
  if (r === undefined) return [];
  const f = (x: number) => x.toFixed(0);
  return [
    table(
      ['scaling', 'vlinks', 'aggregate Mbit/s', 'per vlink min/median/max', 'hub CPU s/GB', 'hub RSS idle/peak MiB', 'peer RSS MiB', 'per vlink MiB'],
      [[SCALE, String(r.vlinks), f(r.aggregateMbps), `${f(r.perVlinkMbps.min)}/${f(r.perVlinkMbps.median)}/${f(r.perVlinkMbps.max)}`,
        r.hubCpuSPerGB.toFixed(2), `${r.hubRssIdleMiB.toFixed(1)}/${r.hubRssPeakMiB.toFixed(1)}`, r.peerRssPeakMiB.toFixed(1), r.perVlinkMiB.toFixed(2)]],
    ),
    `  ${SCALE}: one node, ${SCALE_VLINKS} vlinks (UDP, aes-gcm-256) to ${SCALE_VLINKS} peer daemons over one bridge, an iperf3 per vlink from the hub at once; per vlink MiB = (hub peak RSS - median peer peak RSS) / ${SCALE_VLINKS - 1}; hub path: ${r.path}`,
    '',
  ];
}

/** Per daemon: CPU seconds per GB and peak RSS, in each direction. Empty when nothing was metered. */
function usageTable(rows: Row[]): string[] {
  const f = (t: ThroughputResult | undefined, i: number, k: 'cpuSPerGB' | 'rssMaxMiB'): string =>
    t?.daemons?.[i] ? t.daemons[i]![k].toFixed(k === 'cpuSPerGB' ? 2 : 1) : '—';
  const body = rows
    .filter((r) => r.ok && (r.tcpAtoB?.daemons || r.tcpBtoA?.daemons))
    .map((r) => [
      r.name,
      `${f(r.tcpAtoB, 0, 'cpuSPerGB')}/${f(r.tcpAtoB, 1, 'cpuSPerGB')}`,
      `${f(r.tcpBtoA, 0, 'cpuSPerGB')}/${f(r.tcpBtoA, 1, 'cpuSPerGB')}`,
      `${f(r.tcpAtoB, 0, 'rssMaxMiB')}/${f(r.tcpAtoB, 1, 'rssMaxMiB')}`,
      `${f(r.tcpBtoA, 0, 'rssMaxMiB')}/${f(r.tcpBtoA, 1, 'rssMaxMiB')}`,
    ]);
  if (body.length === 0) return [];
  const header = ['daemons A/B', 'CPU s/GB in A→B', 'CPU s/GB in B→A', 'RSS MiB in A→B', 'RSS MiB in B→A'];
  return ['', table(header, body), ''];
}

/**
 * Issue 9's bar: iiptran-udp's throughput at least ISSUE_BAR times the better of OpenVPN and
 * wireguard-go, in each direction (the better reference is taken per direction), and its idle
 * RTT no higher than OpenVPN's.
 */
function verdict(rows: Row[]): { text: string; value: number | undefined; rttOk: boolean | undefined } {
  const subj = rows.find((r) => r.name === VERDICT_SUBJECT);
  const refs = rows.filter((r) => VERDICT_REFERENCES.includes(r.name) && r.ok);
  const bar = `(issue bar: ≥ ${ISSUE_BAR}× the better reference both ways, idle RTT ≤ OpenVPN's)`;
  if (!subj?.ok || refs.length === 0) {
    const why = !subj ? `${VERDICT_SUBJECT} not run` : !subj.ok ? `${VERDICT_SUBJECT} failed` : 'no reference ran';
    return { text: `${VERDICT_SUBJECT} vs the better of OpenVPN and wireguard-go: n/a — ${why} ${bar}`, value: undefined, rttOk: undefined };
  }
  const best = (k: 'tcpAtoB' | 'tcpBtoA'): Row => refs.reduce((a, b) => (b[k]!.mbps > a[k]!.mbps ? b : a));
  const bA = best('tcpAtoB');
  const bB = best('tcpBtoA');
  const atob = subj.tcpAtoB!.mbps / bA.tcpAtoB!.mbps;
  const btoa = subj.tcpBtoA!.mbps / bB.tcpBtoA!.mbps;
  // The worse of the two directions counts: the bar must hold both ways.
  const v = Math.min(atob, btoa);
  const ovpn = rows.find((r) => r.name === 'openvpn' && r.ok);
  const rttOk = ovpn ? subj.pingIdle!.avgMs <= ovpn.pingIdle!.avgMs : undefined;
  const rtt = ovpn
    ? `idle RTT ${subj.pingIdle!.avgMs.toFixed(3)} vs OpenVPN ${ovpn.pingIdle!.avgMs.toFixed(3)} ms ${rttOk ? 'ok' : 'HIGHER'} (medians ${subj.pingIdle!.medianMs.toFixed(3)} vs ${ovpn.pingIdle!.medianMs.toFixed(3)})`
    : 'idle RTT: OpenVPN not run';
  const meets = v >= ISSUE_BAR && rttOk !== false;
  return {
    text: `${VERDICT_SUBJECT} vs the better reference: ${v.toFixed(2)}× ${bar}  [TCP A→B ${atob.toFixed(2)}× ${bA.name}, B→A ${btoa.toFixed(2)}× ${bB.name}; the lower counts; ${rtt}] ${meets ? 'MEETS' : 'BELOW'} the bar`,
    value: v,
    rttOk,
  };
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        only: { type: 'string' },
        time: { type: 'string', default: '8' },
        json: { type: 'boolean', default: false },
        profile: { type: 'string' },
        base: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage()}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  const seconds = Number(args.time);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 600) {
    process.stderr.write(`--time must be an integer number of seconds 1..600, got ${args.time}\n`);
    return 2;
  }
  const known = [...ALL, ...VARIANTS];
  if (args.base !== undefined) known.push(iiptran('udp', { suffix: 'base', tag: 'ba', bin: join(args.base, 'bin', 'iiptran.js') }));
  let selected = ALL;
  let scale = true;
  if (args.base !== undefined) selected = [...ALL, known.at(-1)!];
  if (args.only !== undefined) {
    const names = new Set<string>();
    for (const raw of args.only.split(',').map((s) => s.trim()).filter(Boolean)) {
      const expanded = ALIASES[raw] ?? [raw];
      for (const n of expanded) {
        if (!known.some((c) => c.name === n) && n !== SCALE) {
          process.stderr.write(`--only: unknown contender '${raw}'\n${usage()}\n`);
          return 2;
        }
        names.add(n);
      }
    }
    selected = known.filter((c) => names.has(c.name)); // keep canonical order: baseline first
    scale = names.has(SCALE);
  }
  if (args.profile !== undefined) {
    const dir = args.profile;
    daemonNodeArgs.args = (name, side) => ['--cpu-prof', '--cpu-prof-dir', join(dir, `${name}-${side}`)];
  }
  const root = await benchSetup('bench', 'network namespaces, TUN devices', ['ip', 'ping', 'iperf3']);
  if (typeof root === 'number') return root;

  const started = new Date();
  const machine = {
    date: started.toISOString(),
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    iperf3: (await run('iperf3', ['--version'])).stdout.split('\n')[0]?.trim() ?? '',
  };
  log(`${machine.date}  nproc ${machine.nproc}  kernel ${machine.kernel}  node ${machine.node}`);
  log(`contenders: ${selected.map((c) => c.name).join(', ')}; iperf3 -t ${seconds} -O 1 per direction`);

  const rows: Row[] = [];
  let scaled: ScaleResult | undefined;
  let scaleError: string | undefined;
  try {
    for (const c of selected) rows.push(await measureContender(c, root, seconds));
    if (scale) {
      try {
        scaled = await measureScale(root, seconds, log);
        log(`${SCALE}: aggregate ${scaled.aggregateMbps.toFixed(0)} Mbit/s`);
      } catch (err) {
        scaleError = (err as Error).message;
        log(`${SCALE}: FAILED: ${scaleError}`);
      }
    }
  } finally {
    killAllLive();
    destroyAllSync();
    await rm(root, { recursive: true, force: true });
  }
  const totalS = (Date.now() - started.getTime()) / 1000;

  const byName = (n: string): Row | undefined => rows.find((r) => r.name === n);
  const base = byName(BASELINE);
  const ovpn = byName('openvpn');
  const wg = byName('wireguard-go');
  const v = verdict(rows);

  if (args.json) {
    const out = {
      machine,
      settings: { iperfSeconds: seconds, iperfOmit: 1, pingCount: PING_COUNT, pingWarmup: PING_WARMUP, pingInterval: Number(PING_INTERVAL_S) },
      results: rows.map((r) => ({
        ...r,
        ratios: { vsVeth: ratio(r, base) ?? null, vsOpenvpn: ratio(r, ovpn) ?? null, vsWireguardGo: ratio(r, wg) ?? null },
      })),
      scale: scaled ?? (scaleError === undefined ? null : { error: scaleError }),
      verdict: { subject: VERDICT_SUBJECT, references: VERDICT_REFERENCES, ratio: v.value ?? null, bar: ISSUE_BAR, idleRttOk: v.rttOk ?? null, text: v.text },
      totalSeconds: totalS,
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } else {
    const header = ['contender', 'TCP A→B Mbit/s', 'TCP B→A Mbit/s', 'ping idle avg±mdev ms', 'idle median', 'ping loaded ms (A→B/B→A)', 'vs veth', 'vs OpenVPN', 'vs wireguard-go'];
    const body = rows.map((r) =>
      r.ok
        ? [r.name, fmtMbps(r.tcpAtoB), fmtMbps(r.tcpBtoA), fmtPing(r.pingIdle), fmtMedian(r.pingIdle), fmtLoaded(r.pingLoadedAtoB, r.pingLoadedBtoA),
            fmtRatio(ratio(r, base)), fmtRatio(ratio(r, ovpn)), fmtRatio(ratio(r, wg))]
        : [r.name, `failed: ${(r.error ?? 'unknown').split('\n')[0]!.slice(0, 200)}`],
    );
    const out: string[] = [
      '',
      `iiptran benchmark — ${machine.date}`,
      `machine: nproc ${machine.nproc} (${machine.cpu}), kernel ${machine.kernel}, node ${machine.node}, ${machine.iperf3}`,
      `method: fresh netns pair per contender, veth underlay 10.201.0.1↔10.201.0.2 MTU 1500; iperf3 -t ${seconds} -O 1 (TCP, 1 stream); ping -c ${PING_COUNT} -i ${PING_INTERVAL_S} (idle: after ${PING_WARMUP} unmeasured)`,
      `ratios are throughput ratios "A→B/B→A" (row ÷ column contender)`,
      '',
      ...(body.length > 0 ? [table(header, body), ''] : []),
      ...rows
        .filter((r) => r.detail)
        .map((r) => {
          const tcp = r.ok ? `; TCP MSS ${r.tcpAtoB!.mss ?? '?'}, retransmits ${r.tcpAtoB!.retransmits ?? '?'}/${r.tcpBtoA!.retransmits ?? '?'}` : '';
          return `  ${r.name}: ${r.detail}${tcp}`;
        }),
      ...usageTable(rows),
      ...scaleLines(scaled, scaleError),
      ...rows.filter((r) => r.path).map((r) => `  ${r.name} path (A): ${r.path}`),
      ...rows.flatMap((r) => r.warnings.map((w) => `  warning (${r.name}): ${w}`)),
      ...rows.filter((r) => !r.ok).map((r) => `\n${r.name} failed:\n${r.error}`),
      '',
      v.text,
      `total run time ${totalS.toFixed(0)} s`,
      '',
    ];
    process.stdout.write(out.join('\n'));
  }
  if (base && !base.ok) {
    process.stderr.write(`bench: the baseline (veth) failed; results are meaningless\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error)?.stack ?? String(err)}\n`);
    killAllLive();
    destroyAllSync();
    process.exit(1);
  },
);
