// The Prometheus text exposition format (version 0.0.4), written by hand. Why not prom-client:
// every value iiptran exports already lives in the node (data-plane counters, SA records, IKE
// and DNS state) and is read at scrape time; prom-client's metric objects are built to be
// incremented by the code that counts, so each scrape would copy our counters into them
// (a Counter has no set(): reset() then inc()). What remains of a client is this file: HELP
// and TYPE once per family, samples grouped under it, label values escaped. It also keeps
// three packages out of a root daemon.

import { IiptranError } from '../errors.js';

export type MetricType = 'counter' | 'gauge';
export type Labels = Readonly<Record<string, string>>;

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Family {
  type: MetricType;
  help: string;
  samples: string[];
}

/** Label value escaping of the text format: backslash, double quote, line feed. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export class MetricsWriter {
  private readonly families = new Map<string, Family>();

  /**
   * Declares a family; samples may then be added to it in any order. Names follow the
   * Prometheus conventions: `iiptran_` prefix, base units (seconds, bytes), counters end in
   * `_total`. A name that breaks them is a bug here, not input, so it throws.
   */
  declare(name: string, type: MetricType, help: string): this {
    if (!NAME_RE.test(name) || !name.startsWith('iiptran_')) throw new IiptranError('IIPTRAN_ERR_INTERNAL', `metric name ${name} breaks the naming rules`);
    if ((type === 'counter') !== name.endsWith('_total')) throw new IiptranError('IIPTRAN_ERR_INTERNAL', `metric ${name}: counters, and only counters, end in _total`);
    const had = this.families.get(name);
    if (had !== undefined && (had.type !== type || had.help !== help)) throw new IiptranError('IIPTRAN_ERR_INTERNAL', `metric ${name} declared twice differently`);
    if (had === undefined) this.families.set(name, { type, help, samples: [] });
    return this;
  }

  add(name: string, labels: Labels, value: number): this {
    const f = this.families.get(name);
    if (f === undefined) throw new IiptranError('IIPTRAN_ERR_INTERNAL', `metric ${name} was not declared`);
    const ls = Object.entries(labels);
    for (const [k] of ls) if (!LABEL_RE.test(k) || k.startsWith('__')) throw new IiptranError('IIPTRAN_ERR_INTERNAL', `metric ${name}: bad label name ${k}`);
    const l = ls.length === 0 ? '' : `{${ls.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
    f.samples.push(`${name}${l} ${formatValue(value)}`);
    return this;
  }

  /** Families in declaration order; ones without samples still say what they are. */
  text(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${f.type}`, ...f.samples);
    }
    return out.join('\n') + '\n';
  }
}
