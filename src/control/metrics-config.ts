// `metrics_listen: ADDRESS:PORT`: where the Prometheus endpoint listens (metrics-server.ts).
// Absent: no endpoint. IPv4 only, like every other address in the config.

import type { SchemaValidator } from './yaml-validator.js';
import { describe, type Obj } from './yaml-validator.js';
import { parseIpv4 } from '../wire/addr.js';

export interface MetricsListen {
  host: string;
  port: number;
}

export const DEFAULT_METRICS_PORT = 9477;

export function readMetricsListen(v: SchemaValidator, top: Obj): MetricsListen | undefined {
  if (!v.present(top, 'metrics_listen')) return undefined;
  const raw = top['metrics_listen'];
  const m = typeof raw === 'string' ? /^([0-9.]+):(\d{1,5})$/.exec(raw) : null;
  const port = m ? Number(m[2]) : NaN;
  if (m === null || parseIpv4(m[1]!) === null || !(port >= 1 && port <= 65535)) {
    v.err(['metrics_listen'], `must be IPV4:PORT with a port 1..65535, e.g. 127.0.0.1:${DEFAULT_METRICS_PORT} (got ${describe(raw)})`);
    return undefined;
  }
  return { host: m[1]!, port };
}

export function formatListen(l: MetricsListen): string {
  return `${l.host}:${l.port}`;
}
