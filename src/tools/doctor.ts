// `iiptran doctor`: one row per thing the daemon, the labs and the tests need from this machine,
// each with the fix. The checks themselves are in doctor-checks.ts; this file runs them, each
// under a time bound, and renders the result. A fresh machine once passed setup.sh yet failed
// every charon test (a plugin package was only a Recommends); the doctor exists so that such a
// gap shows up as a named row at setup time instead of as timeouts deep inside the tests.

import { table } from '../lab/table.js';

export type DoctorStatus = 'ok' | 'warn' | 'fail';

export interface DoctorRow {
  name: string;
  status: DoctorStatus;
  detail: string;
  /** What to do about a warn or fail; null when ok. */
  fix: string | null;
}

export interface DoctorReport {
  schema: 1;
  /** True when no row failed (warnings allowed). */
  ok: boolean;
  rows: DoctorRow[];
}

export interface DoctorCheck {
  name: string;
  /** A floor under the caller's bound, for checks that start a daemon (charon). */
  minTimeoutMs?: number;
  run: () => Promise<Omit<DoctorRow, 'name'>>;
}

export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;

/** 0 when every required check passed (warnings allowed), 1 otherwise. */
export function doctorExitCode(rows: readonly DoctorRow[]): 0 | 1 {
  return rows.some((r) => r.status === 'fail') ? 1 : 0;
}

/** Runs one check: a throw or an overrun becomes a failed row, never an exception. */
export async function runCheck(c: DoctorCheck, defaultTimeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<DoctorRow> {
  const ms = Math.max(c.minTimeoutMs ?? 0, defaultTimeoutMs);
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<Omit<DoctorRow, 'name'>>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'fail', detail: `no answer within ${ms / 1000} s`, fix: 'see why this check hangs (run it by hand)' }), ms);
  });
  try {
    const r = await Promise.race([c.run(), overrun]);
    return { name: c.name, ...r };
  } catch (e) {
    return { name: c.name, status: 'fail', detail: oneLine((e as Error).message ?? String(e)), fix: 'run scripts/setup.sh' };
  } finally {
    clearTimeout(timer);
  }
}

/** All checks at once (each is small and uses its own uniquely named namespace); rows in list order. */
export async function runDoctor(checks: readonly DoctorCheck[], defaultTimeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<DoctorReport> {
  const rows = await Promise.all(checks.map((c) => runCheck(c, defaultTimeoutMs)));
  return { schema: 1, ok: doctorExitCode(rows) === 0, rows };
}

export function oneLine(s: string, max = 160): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
}

export function renderDoctor(r: DoctorReport): string {
  const n = (s: DoctorStatus) => r.rows.filter((x) => x.status === s).length;
  const verdict = r.ok
    ? `all required checks pass (${n('ok')} ok, ${n('warn')} warn)`
    : `${n('fail')} required check(s) FAIL (${n('ok')} ok, ${n('warn')} warn): apply the fixes above, or run scripts/setup.sh`;
  return `${table(['CHECK', 'STATUS', 'DETAIL', 'FIX'], r.rows.map((x) => [x.name, x.status, x.detail, x.fix]))}\n\n${verdict}`;
}
