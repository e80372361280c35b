// `npm run soak`: issue 9's soak, reproducible. Two iiptran daemons keyed by IKEv2 (PSK) with
// CHILD_SAs rekeyed every ~20 s, iperf3 both ways at a fixed rate for the whole run, a ping
// beside it on the same vlink, and an underlay cut every 60 s. Samples both daemons' RSS, JS
// heap, fds, SAs and rekey counters every 10 s; prints them, the summary and the issue's bars.
// See docs/benchmark.md "Soak".
//
//   node dist/bench/soak.js [--minutes 10] [--rate 200] [--cut-every 60] [--cut-for 5] [--rekey 20] [--json]

import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { controlCall } from '../src/control/control-client.js';
import { destroyAllSync, NsPair, UNDERLAY_A, UNDERLAY_B, UNDERLAY_MTU, VETH_A, type Side } from './netns.js';
import { IIPTRAN_BIN, OVERLAY_A, OVERLAY_B } from './overlay.js';
import { killAllLive, run, sleep, type BgProcess } from './proc.js';
import * as R from './soak-report.js';
import { benchSetup } from './setup.js';

const SAMPLE_S = 10;
const PING_INTERVAL_S = 0.2;
const READY_TIMEOUT_MS = 30_000;
/** Pings sent this long before a cut are left out too: their replies may meet the cut. */
const BEFORE_CUT_S = 1;
const CUT_TABLE = 'iib_soak_cut';

const log = (msg: string): void => void process.stderr.write(`[soak] ${msg}\n`);

interface Opts {
  minutes: number;
  rate: number;
  cutEvery: number;
  cutFor: number;
  rekey: number;
  grace: number;
  json: boolean;
}

function usage(): string {
  return [
    'usage: node dist/bench/soak.js [options]   (npm run soak -- [options]; must run as root)',
    '  --minutes N    length of the loaded run (default 10)',
    '  --rate M       iperf3 rate in Mbit/s in each direction (--bidir -b M); 0 = unlimited (default 200)',
    '  --cut-every S  cut the underlay every S seconds, from S on; 0 = no cuts (default 60)',
    '  --cut-for S    length of each cut: nft drops everything arriving on the veth, at both ends (default 5)',
    '  --rekey S      CHILD_SA rekey period: child_lifetime_s = round(S / 0.9), rekeyed at 85-95 % (default 20)',
    '  --grace S      pings sent up to S seconds after a cut are left out of the loss, as is the second before it (default 5)',
    '  --json         print the samples, summary and verdicts as JSON on stdout',
    '  -h, --help     this text',
  ].join('\n');
}

/** The options, or null for --help. */
function parse(argv: string[]): Opts | null {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: '10' },
      rate: { type: 'string', default: '200' },
      'cut-every': { type: 'string', default: '60' },
      'cut-for': { type: 'string', default: '5' },
      rekey: { type: 'string', default: '20' },
      grace: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (v.help) return null;
  const num = (name: string, raw: string, lo: number, hi: number): number => {
    const x = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(x) || x < lo || x > hi) throw new Error(`--${name} must be a number ${lo}..${hi}, got '${raw}'`);
    return x;
  };
  const o: Opts = {
    minutes: num('minutes', v.minutes, 0.5, 240),
    rate: num('rate', v.rate, 0, 100_000),
    cutEvery: num('cut-every', v['cut-every'], 0, 3600),
    cutFor: num('cut-for', v['cut-for'], 0.5, 600),
    rekey: num('rekey', v.rekey, 2, 3600),
    grace: num('grace', v.grace, 0, 600),
    json: v.json,
  };
  if (o.cutEvery > 0 && o.cutFor >= o.cutEvery) throw new Error(`--cut-for (${o.cutFor}) must be shorter than --cut-every (${o.cutEvery})`);
  return o;
}

function nodeConfig(side: Side, dir: string, childLifetimeS: number): string {
  const a = side === 'a';
  return [
    `node: soak-${side}`,
    `control_socket: ${join(dir, `${side}.sock`)}`,
    'log_level: warn',
    `underlay: { address: ${a ? UNDERLAY_A : UNDERLAY_B}, mtu: ${UNDERLAY_MTU} }`,
    'vlinks:',
    `  - name: ${a ? 'vl-b' : 'vl-a'}`,
    `    peer: ${a ? UNDERLAY_B : UNDERLAY_A}`,
    '    encap: udp',
    `    address: ${a ? OVERLAY_A : OVERLAY_B}/31`,
    '    keying:',
    '      mode: ikev2',
    '      psk_file: soak.psk',
    '      esp_proposals: [aes256gcm16]',
    `      child_lifetime_s: ${childLifetimeS}`,
    '',
  ].join('\n');
}

/** A cut: everything arriving on the underlay veth is dropped, at both ends; senders see no error. */
async function setCut(pair: NsPair, on: boolean): Promise<void> {
  await Promise.all(
    (['a', 'b'] as Side[]).map(async (side) => {
      const script = on
        ? `table inet ${CUT_TABLE} {\n  chain cut {\n    type filter hook input priority -300; policy accept;\n    iifname "${VETH_A}" drop\n  }\n}\n`
        : `delete table inet ${CUT_TABLE}\n`;
      const r = await pair.exec(side, 'nft', ['-f', '-'], { input: script, timeoutMs: 10_000 });
      if (r.code !== 0) throw new Error(`nft in ${side}: ${(r.stderr || r.stdout).trim()}`);
    }),
  );
}

type Obj = Record<string, unknown>;

async function sampleDaemon(pid: number, sock: string): Promise<R.DaemonSample> {
  const call = (method: string, params: Obj = {}): Promise<Obj | null> =>
    controlCall(sock, method, params, 5000).then((x) => x as Obj, () => null);
  // fds and RSS first: the control connections below are fds of the daemon while they last.
  const fdList = await readdir(`/proc/${pid}/fd`).catch(() => null);
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = (field: string): number | null => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) / 1024 : null;
  };
  const ping = await call('ping');
  const sas = await call('show', { what: 'sas' });
  const ike = await call('show', { what: 'ike' });
  const counters = await call('show', { what: 'counters' });
  const mem = ping?.['memory'] as { heapUsedBytes?: number; externalBytes?: number } | undefined;
  const peers = (ike?.['peers'] as Array<{ sas: Array<{ children: unknown[] }> }> | undefined) ?? null;
  const rekeys = ike ? Object.values((ike['stats'] as { rekeys?: Record<string, { ike: number; child: number }> }).rekeys ?? {}) : null;
  const vls = counters ? Object.values(counters['vlinks'] as Record<string, { tunTxDropped?: number }>) : null;
  return {
    rssMiB: kb('VmRSS'),
    rssAnonMiB: kb('RssAnon'),
    rssFileMiB: kb('RssFile'),
    fds: fdList?.length ?? null,
    heapMiB: typeof mem?.heapUsedBytes === 'number' ? mem.heapUsedBytes / 1048576 : null,
    externalMiB: typeof mem?.externalBytes === 'number' ? mem.externalBytes / 1048576 : null,
    sas: sas ? (sas['sas'] as unknown[]).length : null,
    children: peers ? peers.reduce((n, p) => n + p.sas.reduce((m, s) => m + s.children.length, 0), 0) : null,
    ikeSas: peers ? peers.reduce((n, p) => n + p.sas.length, 0) : null,
    childRekeys: rekeys ? rekeys.reduce((n, r) => n + r.child, 0) : null,
    ikeRekeys: rekeys ? rekeys.reduce((n, r) => n + r.ike, 0) : null,
    tunTxDropped: vls ? vls.reduce((n, c) => n + (c.tunTxDropped ?? 0), 0) : null,
  };
}

/**
 * Counts a daemon's warnings and errors (pino JSON lines, level >= 40) by message, from all of
 * its output: BgProcess keeps only the tail.
 */
function countWarnings(p: BgProcess): Record<string, number> {
  const out: Record<string, number> = {};
  let partial = '';
  const onData = (d: Buffer | string): void => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      let key = line.trim().slice(0, 160);
      try {
        const j = JSON.parse(line) as { level?: number; msg?: string };
        if ((j.level ?? 0) < 40) continue;
        key = j.msg ?? '?';
      } catch {
        /* not JSON (a crash trace): counted as is */
      }
      if (key) out[key] = (out[key] ?? 0) + 1;
    }
  };
  p.child.stdout!.on('data', onData);
  p.child.stderr!.on('data', onData);
  return out;
}

interface Iperf {
  atobMbps: number | null;
  btoaMbps: number | null;
  retransmits: number | null;
  error?: string;
}

/** `iperf3 -J --bidir`: end.sum_received is B's view of A→B, sum_received_bidir_reverse A's of B→A. */
function parseIperf(stdout: string): Iperf {
  type Sum = { bits_per_second?: number; retransmits?: number };
  try {
    const j = JSON.parse(stdout) as { error?: string; end?: Record<string, Sum | undefined> };
    const mbps = (s: Sum | undefined): number | null => (typeof s?.bits_per_second === 'number' ? s.bits_per_second / 1e6 : null);
    const e = j.end ?? {};
    const rt = (e['sum_sent']?.retransmits ?? 0) + (e['sum_sent_bidir_reverse']?.retransmits ?? 0);
    return { atobMbps: mbps(e['sum_received']), btoaMbps: mbps(e['sum_received_bidir_reverse']), retransmits: rt, ...(j.error ? { error: j.error } : {}) };
  } catch {
    return { atobMbps: null, btoaMbps: null, retransmits: null, error: `no JSON from iperf3: ${stdout.trim().slice(-300)}` };
  }
}

async function soak(o: Opts, root: string) {
  const childLifetimeS = Math.max(2, Math.round(o.rekey / 0.9));
  const seconds = Math.round(o.minutes * 60);
  const pair = await NsPair.create('soak');
  try {
    log(`namespaces ${pair.a} / ${pair.b}; child_lifetime_s ${childLifetimeS}`);
    await writeFile(join(root, 'soak.psk'), `0x${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    const procs: BgProcess[] = [];
    const warnings: Array<Record<string, number>> = [];
    for (const side of ['a', 'b'] as Side[]) {
      const file = join(root, `${side}.yaml`);
      await writeFile(file, nodeConfig(side, root, childLifetimeS), { mode: 0o600 });
      procs.push(pair.spawn(side, `daemon ${side.toUpperCase()}`, process.execPath, [IIPTRAN_BIN, 'node', '--config', file]));
      warnings.push(countWarnings(procs.at(-1)!));
    }
    try {
      await pair.waitPing('a', OVERLAY_B, READY_TIMEOUT_MS, 'IKEv2 overlay', procs);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- daemon A ---\n${procs[0]!.tail(800)}\n--- daemon B ---\n${procs[1]!.tail(800)}`);
    }
    const pids = procs.map((p) => p.child.pid!) as [number, number];
    const socks = (['a', 'b'] as Side[]).map((s) => join(root, `${s}.sock`));
    log(`overlay up (IKEv2); daemons pid ${pids.join(', ')}`);

    const server = pair.spawn('b', 'iperf3 server', 'iperf3', ['-s', '-1', '-B', OVERLAY_B, '--forceflush']);
    await server.waitFor(/Server listening/, 5000);
    const cuts: R.CutWindow[] = [];
    const samples: R.Sample[] = [];
    let inCut = false;
    const t0 = Date.now();
    const iperfP = pair.exec('a', 'iperf3', ['-c', OVERLAY_B, '--bidir', '-b', `${o.rate}M`, '-t', String(seconds), '-i', String(SAMPLE_S), '-J', '--connect-timeout', '3000'], {
      timeoutMs: (seconds + 120) * 1000,
    });
    const pingCount = Math.floor((seconds - 1) / PING_INTERVAL_S);
    const firstPing = Date.now() / 1000;
    const pingP = pair.exec('a', 'ping', ['-D', '-n', '-i', String(PING_INTERVAL_S), '-W', '1', '-c', String(pingCount), OVERLAY_B], {
      timeoutMs: (seconds + 60) * 1000,
    });
    const sampleAll = async (t: number): Promise<void> => {
      const d = await Promise.all([0, 1].map((i) => sampleDaemon(pids[i]!, socks[i]!)));
      samples.push({ t, inCut, daemons: d as [R.DaemonSample, R.DaemonSample] });
      const rss = d.map((x) => x.rssMiB?.toFixed(1) ?? '—').join('/');
      log(`t=${t}s${inCut ? ' (cut)' : ''}  RSS ${rss} MiB  SAs ${d[0]!.sas}/${d[1]!.sas}  rekeys ${d[0]!.childRekeys}/${d[1]!.childRekeys}`);
    };
    const at = (s: number): Promise<void> => sleep(Math.max(0, t0 + s * 1000 - Date.now()));
    const sampler = (async () => {
      for (let t = 0; t <= seconds; t += SAMPLE_S) {
        await at(t);
        for (const p of procs) if (!p.running) throw new Error(`${p.label} exited (${p.exitInfo?.code ?? p.exitInfo?.signal}): ${p.tail(800)}`);
        await sampleAll(t);
      }
    })();
    const cutter = (async () => {
      if (o.cutEvery <= 0) return;
      for (let t = o.cutEvery; t + o.cutFor < seconds; t += o.cutEvery) {
        await at(t);
        await setCut(pair, true);
        inCut = true;
        const start = Date.now() / 1000;
        await at(t + o.cutFor);
        await setCut(pair, false);
        inCut = false;
        cuts.push({ start, end: Date.now() / 1000 });
        log(`cut ${cuts.length}: ${(cuts.at(-1)!.end - start).toFixed(1)} s`);
      }
    })();
    const [iperfR, pingR] = await Promise.all([iperfP, pingP, sampler, cutter]);
    await server.stop(1000);
    const pingOut = pingR.stdout + pingR.stderr;
    const tx = /(\d+) packets transmitted/.exec(pingOut);
    const sent = tx ? Number(tx[1]) : pingCount;
    const loss = R.pingLoss(R.parseReplies(pingOut), sent, firstPing, PING_INTERVAL_S, cuts, o.grace, BEFORE_CUT_S);
    return { childLifetimeS, seconds, samples, cuts, loss, iperf: parseIperf(iperfR.stdout), daemonWarnings: warnings };
  } finally {
    await pair.destroy();
  }
}

async function main(): Promise<number> {
  let o: Opts | null;
  try {
    o = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`soak: ${(err as Error).message}\n${usage()}\n`);
    return 2;
  }
  if (o === null) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  const root = await benchSetup('soak', 'network namespaces, TUN devices, nft', ['ip', 'ping', 'iperf3', 'nft']);
  if (typeof root === 'number') return root;
  const date = new Date().toISOString();
  const machine = `nproc ${os.availableParallelism()} (${os.cpus()[0]?.model ?? '?'}), kernel ${os.release()}, node ${process.version}`;
  log(`${date}  ${machine}`);
  log(`${o.minutes} min, iperf3 --bidir ${o.rate || 'unlimited'} Mbit/s, rekey ~${o.rekey} s, cut ${o.cutFor} s every ${o.cutEvery || '—'} s`);
  let r;
  try {
    r = await soak(o, root);
  } finally {
    killAllLive();
    destroyAllSync();
    await rm(root, { recursive: true, force: true });
  }
  const d: [R.DaemonSummary, R.DaemonSummary] = [R.summarise(r.samples, 0), R.summarise(r.samples, 1)];
  const v = R.verdicts(d, r.loss);
  const settings = { ...o, childLifetimeS: r.childLifetimeS, sampleS: SAMPLE_S, pingIntervalS: PING_INTERVAL_S, beforeCutS: BEFORE_CUT_S };
  if (o.json) {
    process.stdout.write(JSON.stringify({ date, machine, settings, samples: r.samples, cuts: r.cuts, ping: r.loss, iperf: r.iperf, daemons: d, daemonWarnings: r.daemonWarnings, verdicts: v }, null, 2) + '\n');
  } else {
    const L = r.loss;
    const f = (x: number | null, dd = 1): string => (x === null ? '—' : x.toFixed(dd));
    process.stdout.write(
      [
        '',
        `iiptran soak — ${date}`,
        `machine: ${machine}`,
        `method: netns pair, veth underlay MTU ${UNDERLAY_MTU}; IKEv2 PSK, aes256gcm16, child_lifetime_s ${r.childLifetimeS} (rekey at 85-95 %); ` +
          `iperf3 --bidir -b ${o.rate ? `${o.rate}M` : '0 (unlimited)'} -t ${r.seconds}; ping -i ${PING_INTERVAL_S} on the same vlink; ` +
          (o.cutEvery > 0 ? `underlay cut ${o.cutFor} s every ${o.cutEvery} s (nft drop on input, both ends); ` : 'no cuts; ') +
          `sampled every ${SAMPLE_S} s`,
        '',
        R.samplesTable(r.samples),
        '',
        R.summaryTable(d),
        '',
        `cuts: ${r.cuts.length}, ${r.cuts.map((c) => (c.end - c.start).toFixed(1)).join('/') || '—'} s`,
        `ping: ${L.sent} sent; ${L.excluded} left out (sent from ${BEFORE_CUT_S} s before a cut to ${o.grace} s after it; ${L.lostInWindows} of them lost); ` +
          `${L.lost} of ${L.counted} lost outside (${L.lossPct.toFixed(2)}%); RTT median ${f(L.medianMs, 2)}, p99 ${f(L.p99Ms, 2)}, max ${f(L.maxMs, 1)} ms`,
        `iperf3: A→B ${f(r.iperf.atobMbps)} Mbit/s, B→A ${f(r.iperf.btoaMbps)} Mbit/s, retransmits ${r.iperf.retransmits ?? '—'}${r.iperf.error ? ` (error: ${r.iperf.error})` : ''}`,
        ...(['A', 'B'] as const).map((n, i) => {
          const w = Object.entries(r.daemonWarnings[i]!);
          return `daemon ${n} warnings/errors: ${w.length ? w.map(([m, c]) => `${c}× ${m}`).join('; ') : 'none'}`;
        }),
        '',
        ...v.map((x) => `${x.ok === null ? 'N/A  ' : x.ok ? 'MEETS' : 'BELOW'}  ${x.bar}: ${x.text}`),
        '',
      ].join('\n'),
    );
  }
  return r.iperf.error ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${(err as Error)?.stack ?? String(err)}\n`);
    killAllLive();
    destroyAllSync();
    process.exit(1);
  },
);
