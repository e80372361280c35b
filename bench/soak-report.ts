// The soak's arithmetic and its printout (soak.ts runs it): ping loss outside the cut windows,
// least-squares drift of RSS and heap, the samples table, the summary and the verdicts. Pure
// functions of what soak.ts measured, so they can be checked without a daemon.

export interface DaemonSample {
  rssMiB: number | null;
  /** VmRSS's parts: anonymous memory (heap, malloc, buffers) and file-backed pages (code). */
  rssAnonMiB: number | null;
  rssFileMiB: number | null;
  fds: number | null;
  heapMiB: number | null;
  /** Node's `external` memory: Buffers and other memory outside the JS heap that V8 is told of. */
  externalMiB: number | null;
  /** Data-plane SAs (`show sas`: the outbound one and every inbound one). */
  sas: number | null;
  /** CHILD_SAs under the IKE SAs (`show ike`). */
  children: number | null;
  ikeSas: number | null;
  childRekeys: number | null;
  ikeRekeys: number | null;
  /** Packets the kernel dropped at the TUN because the daemon did not read them in time. */
  tunTxDropped: number | null;
}

export interface Sample {
  /** Seconds since the load started. */
  t: number;
  /** True when an underlay cut was in force at the moment of sampling. */
  inCut: boolean;
  daemons: [DaemonSample, DaemonSample];
}

export interface CutWindow {
  /** Epoch seconds when the drop rules were in place at both ends, and when both were removed. */
  start: number;
  end: number;
}

export interface PingReply {
  seq: number;
  /** Epoch seconds of the reply (`ping -D`). */
  at: number;
  rttMs: number;
}

const REPLY = /^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+) .*time=([\d.]+) ms/;

/** The replies in `ping -D -n` output, one per sequence number (duplicates ignored). */
export function parseReplies(out: string): PingReply[] {
  const seen = new Map<number, PingReply>();
  for (const line of out.split('\n')) {
    const m = REPLY.exec(line.trim());
    if (!m || line.includes('(DUP!)')) continue;
    const seq = Number(m[2]);
    if (!seen.has(seq)) seen.set(seq, { seq, at: Number(m[1]), rttMs: Number(m[3]) });
  }
  return [...seen.values()].sort((a, b) => a.seq - b.seq);
}

export interface PingLoss {
  sent: number;
  /** Pings sent inside an exclusion window (a cut, the second before it, the grace after it). */
  excluded: number;
  lostInWindows: number;
  counted: number;
  lost: number;
  lossPct: number;
  /** Median and 99th percentile RTT of the counted replies, ms. */
  medianMs: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * Loss of the pings 1..sent, leaving out those sent from `beforeS` before a cut until `graceS`
 * after it. A reply's send time is its arrival minus its RTT; a lost ping's is interpolated
 * between the nearest answered neighbours (ping sends at a fixed interval), or extrapolated by
 * `intervalS` at either end.
 */
export function pingLoss(replies: PingReply[], sent: number, firstSend: number, intervalS: number, cuts: CutWindow[], graceS: number, beforeS = 1): PingLoss {
  const bySeq = new Map(replies.map((r) => [r.seq, r]));
  const sendAt = (seq: number): number => {
    const r = bySeq.get(seq);
    if (r) return r.at - r.rttMs / 1000;
    let lo = seq - 1;
    while (lo >= 1 && !bySeq.has(lo)) lo--;
    let hi = seq + 1;
    while (hi <= sent && !bySeq.has(hi)) hi++;
    const l = lo >= 1 ? bySeq.get(lo) : undefined;
    const h = hi <= sent ? bySeq.get(hi) : undefined;
    if (l && h) {
      const tl = l.at - l.rttMs / 1000;
      const th = h.at - h.rttMs / 1000;
      return tl + ((th - tl) * (seq - lo)) / (hi - lo);
    }
    if (l) return l.at - l.rttMs / 1000 + (seq - lo) * intervalS;
    if (h) return h.at - h.rttMs / 1000 - (hi - seq) * intervalS;
    return firstSend + (seq - 1) * intervalS;
  };
  const excludedAt = (t: number): boolean => cuts.some((c) => t >= c.start - beforeS && t <= c.end + graceS);
  let excluded = 0;
  let lostInWindows = 0;
  let lost = 0;
  const rtts: number[] = [];
  for (let seq = 1; seq <= sent; seq++) {
    const answered = bySeq.has(seq);
    if (excludedAt(sendAt(seq))) {
      excluded++;
      if (!answered) lostInWindows++;
      continue;
    }
    if (answered) rtts.push(bySeq.get(seq)!.rttMs);
    else lost++;
  }
  rtts.sort((a, b) => a - b);
  const counted = sent - excluded;
  return {
    sent,
    excluded,
    lostInWindows,
    counted,
    lost,
    lossPct: counted > 0 ? (100 * lost) / counted : 0,
    medianMs: quantile(rtts, 0.5),
    p99Ms: quantile(rtts, 0.99),
    maxMs: rtts.at(-1) ?? null,
  };
}

/** Least-squares slope of y over x; null with fewer than two distinct x. */
export function slope(points: Array<[number, number]>): number | null {
  if (points.length < 2) return null;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
  }
  return sxx === 0 ? null : sxy / sxx;
}

export interface DaemonSummary {
  rssStart: number | null;
  rssMax: number | null;
  rssEnd: number | null;
  /** MiB per minute, least squares over the samples of the second half of the run. */
  rssSlope: number | null;
  anonStart: number | null;
  anonEnd: number | null;
  anonSlope: number | null;
  fileStart: number | null;
  fileEnd: number | null;
  heapStart: number | null;
  heapMax: number | null;
  heapEnd: number | null;
  heapSlope: number | null;
  externalStart: number | null;
  externalEnd: number | null;
  fdsStart: number | null;
  fdsEnd: number | null;
  fdsMax: number | null;
  sasStart: number | null;
  sasEnd: number | null;
  sasMax: number | null;
  childRekeys: number | null;
  ikeRekeys: number | null;
  tunTxDropped: number | null;
}

type Key = keyof DaemonSample;

export function summarise(samples: Sample[], i: 0 | 1): DaemonSummary {
  const vals = (k: Key): number[] => samples.map((s) => s.daemons[i][k]).filter((v): v is number => v !== null);
  const first = (k: Key): number | null => vals(k)[0] ?? null;
  const last = (k: Key): number | null => vals(k).at(-1) ?? null;
  const max = (k: Key): number | null => (vals(k).length ? Math.max(...vals(k)) : null);
  const end = samples.at(-1)?.t ?? 0;
  const half = samples.filter((s) => s.t >= end / 2);
  const perMin = (k: Key): number | null => {
    const pts = half.flatMap((s): Array<[number, number]> => (s.daemons[i][k] === null ? [] : [[s.t / 60, s.daemons[i][k]!]]));
    return slope(pts);
  };
  const delta = (k: Key): number | null => {
    const a = first(k);
    const b = last(k);
    return a === null || b === null ? null : b - a;
  };
  return {
    rssStart: first('rssMiB'),
    rssMax: max('rssMiB'),
    rssEnd: last('rssMiB'),
    rssSlope: perMin('rssMiB'),
    anonStart: first('rssAnonMiB'),
    anonEnd: last('rssAnonMiB'),
    anonSlope: perMin('rssAnonMiB'),
    fileStart: first('rssFileMiB'),
    fileEnd: last('rssFileMiB'),
    heapStart: first('heapMiB'),
    heapMax: max('heapMiB'),
    heapEnd: last('heapMiB'),
    heapSlope: perMin('heapMiB'),
    externalStart: first('externalMiB'),
    externalEnd: last('externalMiB'),
    fdsStart: first('fds'),
    fdsEnd: last('fds'),
    fdsMax: max('fds'),
    sasStart: first('sas'),
    sasEnd: last('sas'),
    sasMax: max('sas'),
    childRekeys: delta('childRekeys'),
    ikeRekeys: delta('ikeRekeys'),
    tunTxDropped: delta('tunTxDropped'),
  };
}

export const RSS_BAR_MIB = 80;
export const SLOPE_BAR_MIB_PER_MIN = 0.1;
export const LOSS_BAR_PCT = 1;

export interface Verdict {
  bar: string;
  ok: boolean | null;
  text: string;
}

const n1 = (v: number | null | undefined, d = 1): string => (v === null || v === undefined ? '—' : v.toFixed(d));

export function verdicts(d: [DaemonSummary, DaemonSummary], loss: PingLoss | null): Verdict[] {
  const both = (f: (s: DaemonSummary) => boolean | null): boolean | null => {
    const r = d.map(f);
    return r.includes(null) ? null : r.every(Boolean);
  };
  const rss = both((s) => (s.rssMax === null ? null : s.rssMax <= RSS_BAR_MIB));
  const flat = both((s) => (s.rssSlope === null ? null : s.rssSlope < SLOPE_BAR_MIB_PER_MIN));
  const mb = (mib: number | null): string => (mib === null ? '—' : ((mib * 1048576) / 1e6).toFixed(1));
  return [
    {
      bar: `RSS <= ${RSS_BAR_MIB} MiB`,
      ok: rss,
      text: `max RSS A ${n1(d[0].rssMax)} / B ${n1(d[1].rssMax)} MiB (${mb(d[0].rssMax)} / ${mb(d[1].rssMax)} MB)`,
    },
    {
      bar: `RSS flat (slope < ${SLOPE_BAR_MIB_PER_MIN} MiB/min, second half)`,
      ok: flat,
      text: `slope A ${n1(d[0].rssSlope, 3)} / B ${n1(d[1].rssSlope, 3)} MiB/min`,
    },
    {
      bar: `ping loss outside cuts < ${LOSS_BAR_PCT}%`,
      ok: loss === null ? null : loss.lossPct < LOSS_BAR_PCT,
      text: loss === null ? 'no ping result' : `${loss.lost} of ${loss.counted} lost (${loss.lossPct.toFixed(2)}%)`,
    },
  ];
}

/** Rows of text cells, first column left-aligned, the rest right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
  return [line(header), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}

const cell = (v: number | null, d = 0): string => (v === null ? '—' : v.toFixed(d));

export function samplesTable(samples: Sample[]): string {
  const header = ['t s', 'RSS MiB A/B', 'heap MiB A/B', 'fds A/B', 'SAs A/B', 'CHILD A/B', 'rekeys A/B', 'TUN drops A/B'];
  const pair = (s: Sample, k: Key, d = 0): string => `${cell(s.daemons[0][k], d)}/${cell(s.daemons[1][k], d)}`;
  const rows = samples.map((s) => [
    `${s.t.toFixed(0)}${s.inCut ? ' cut' : ''}`,
    pair(s, 'rssMiB', 1),
    pair(s, 'heapMiB', 1),
    pair(s, 'fds'),
    pair(s, 'sas'),
    pair(s, 'children'),
    pair(s, 'childRekeys'),
    pair(s, 'tunTxDropped'),
  ]);
  return table(header, rows);
}

export function summaryTable(d: [DaemonSummary, DaemonSummary]): string {
  const row = (name: string, f: (s: DaemonSummary) => string): string[] => [name, f(d[0]), f(d[1])];
  return table(
    ['', 'daemon A', 'daemon B'],
    [
      row('RSS MiB start/max/end', (s) => `${n1(s.rssStart)}/${n1(s.rssMax)}/${n1(s.rssEnd)}`),
      row('RSS slope MiB/min (2nd half)', (s) => n1(s.rssSlope, 3)),
      row('  anon MiB start/end, slope', (s) => `${n1(s.anonStart)}/${n1(s.anonEnd)}, ${n1(s.anonSlope, 3)}`),
      row('  file-backed MiB start/end', (s) => `${n1(s.fileStart)}/${n1(s.fileEnd)}`),
      row('JS heap MiB start/max/end', (s) => `${n1(s.heapStart)}/${n1(s.heapMax)}/${n1(s.heapEnd)}`),
      row('heap slope MiB/min (2nd half)', (s) => n1(s.heapSlope, 3)),
      row('external MiB start/end', (s) => `${n1(s.externalStart)}/${n1(s.externalEnd)}`),
      row('fds start/max/end', (s) => `${cell(s.fdsStart)}/${cell(s.fdsMax)}/${cell(s.fdsEnd)}`),
      row('SAs start/max/end', (s) => `${cell(s.sasStart)}/${cell(s.sasMax)}/${cell(s.sasEnd)}`),
      row('CHILD_SA rekeys (IKE SA rekeys)', (s) => `${cell(s.childRekeys)} (${cell(s.ikeRekeys)})`),
      row('TUN kernel drops (tx)', (s) => cell(s.tunTxDropped)),
    ],
  );
}
