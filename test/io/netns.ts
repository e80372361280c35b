// Test helper (not a test file): throwaway network namespaces and a child node process
// running inside one. Everything the real-device tests touch lives in such a namespace.

import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export function createNetns(tag: string): string {
  const name = `iit-${tag}-${process.pid}-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name], { stdio: 'pipe' });
  return name;
}

export function deleteNetns(name: string): void {
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'pipe' });
  } catch {
    // already gone
  }
}

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The last stdout line parsed as JSON, when it is JSON. */
  json: Record<string, unknown> | undefined;
}

/** Run a compiled helper beside this file (e.g. 'tun-child.js') inside `ns`. */
export function runInNetns(ns: string, script: string, args: string[], timeoutMs = 20_000): Promise<ChildResult> {
  const path = fileURLToPath(new URL(script, import.meta.url));
  return new Promise((resolve) => {
    execFile(
      'ip',
      ['netns', 'exec', ns, process.execPath, path, ...args],
      { timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: unknown }).code as number | null) ?? null : 0;
        const last = stdout.trim().split('\n').pop() ?? '';
        let json: Record<string, unknown> | undefined;
        try {
          json = JSON.parse(last) as Record<string, unknown>;
        } catch {
          json = undefined;
        }
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr, json });
      },
    );
  });
}
