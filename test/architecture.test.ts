// The README's architecture section says which layer may import which. This test reads every
// import in src/ and holds the code to that, so the section cannot silently drift from the code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../src/lab/pair-lab.js';

const SRC = path.join(REPO_ROOT, 'src');

/** Layers from the top; a module may import its own layer and any layer below it. */
const LAYERS = ['cli', 'tools', 'lab', 'control', 'ike dns dhcp', 'dataplane', 'wire'];
/** Leaf modules at the root of src/ that every layer may use. */
const LEAVES = new Set(['errors', 'clock', 'fake-clock', 'rate-limit']);
/** io files any layer may import values from (interfaces, and the guard's constants and error helper). */
const IO_EVERYWHERE = new Set(['io/types.ts', 'io/guard.ts']);

function rank(top: string): number {
  return LAYERS.findIndex((l) => l.split(' ').includes(top));
}

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

interface Edge { from: string; to: string; typeOnly: boolean }

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of tsFiles(SRC)) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(import type [^;]*?from|from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)) {
      const target = path.relative(SRC, path.resolve(path.dirname(file), m[2]!)) + '.ts';
      out.push({ from: path.relative(SRC, file), to: target, typeOnly: m[1]!.startsWith('import type') });
    }
  }
  return out;
}

function topOf(rel: string): string {
  const parts = rel.split(path.sep);
  return parts.length === 1 ? parts[0]!.replace(/\.ts$/, '') : parts[0]!;
}

test('src/ has imports to check (the walk found the tree)', () => {
  const e = edges();
  assert.ok(e.length > 300, `only ${e.length} imports found under ${SRC}`);
  assert.ok(e.some((x) => x.from.startsWith('control') && x.to.startsWith('ike')));
});

test('imports point one way: cli -> tools -> lab -> control -> ike, dns, dhcp -> dataplane -> wire', () => {
  const bad: string[] = [];
  for (const { from, to } of edges()) {
    const f = topOf(from);
    const t = topOf(to);
    if (f === t || LEAVES.has(t) || t === 'io' || t === 'native') continue;
    if (LEAVES.has(f)) {
      bad.push(`${from} -> ${to}: a leaf module imports a layer`);
      continue;
    }
    if (f === 'io' || f === 'native') {
      if (t !== 'wire') bad.push(`${from} -> ${to}: io and native import only wire and the leaves`);
      continue;
    }
    const rf = rank(f);
    const rt = rank(t);
    assert.ok(rf >= 0 && rt >= 0, `unknown layer in ${from} -> ${to}: add it to LAYERS and to the README`);
    if (rt < rf || (rt === rf && f !== t)) bad.push(`${from} -> ${to}: ${t} is not below ${f}`);
  }
  assert.deepEqual(bad, []);
});

test('io is handed in: only cli imports its implementations; below it, types and the guard constants only', () => {
  const bad = edges()
    .filter(({ from, to, typeOnly }) => topOf(to) === 'io' && !['io', 'cli'].includes(topOf(from)) && !typeOnly && !IO_EVERYWHERE.has(to))
    .map(({ from, to }) => `${from} -> ${to}`);
  assert.deepEqual(bad, []);
});

test('the native addon is reached only through io (and doctor, which checks it)', () => {
  const bad = edges()
    .filter(({ from, to }) => topOf(to) === 'native' && !['native', 'io', 'tools'].includes(topOf(from)))
    .map(({ from, to }) => `${from} -> ${to}`);
  assert.deepEqual(bad, []);
});
