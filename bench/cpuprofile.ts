// Summarise a V8 .cpuprofile (what `node --cpu-prof` and `npm run bench -- --profile DIR` write):
// self time per function, largest first, with the share of the whole profile.
//
//   node dist/bench/cpuprofile.js FILE.cpuprofile [--top 25]

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  pct: number;
}

export function selfTimes(p: Profile): SelfTime[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const ms = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!);
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    if (n === undefined) continue;
    const f = n.callFrame;
    const where = f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    ms.set(key, (ms.get(key) ?? 0) + dt);
  }
  return [...ms.entries()]
    .map(([name, t]) => ({ name, ms: t, pct: total > 0 ? (100 * t) / total : 0 }))
    .sort((a, b) => b.ms - a.ms);
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  const ti = args.indexOf('--top');
  const top = ti >= 0 ? Number(args[ti + 1]) : 25;
  if (file === undefined) {
    process.stderr.write('usage: node dist/bench/cpuprofile.js FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const rows = selfTimes(p);
  const wall = (p.endTime - p.startTime) / 1e6;
  const idle = rows.find((r) => r.name.startsWith('(idle)'))?.ms ?? 0;
  process.stdout.write(`${file}: ${wall.toFixed(1)} s profiled, ${(wall - idle / 1000).toFixed(1)} s not idle\n`);
  for (const r of rows.slice(0, top)) process.stdout.write(`${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}\n`);
}

if (process.argv[1] && basename(process.argv[1]) === 'cpuprofile.js') main();
