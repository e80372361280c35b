#!/usr/bin/env node
// npm's `prepare`: compiles the TypeScript to dist/. npm runs it after `npm install` in a clone
// (so `npx iiptran` works at once), before `npm pack`, and for `npm install -g .` in a clone.
// Where npm runs it without the dev dependencies (`npm install -g ./dir` of a clone that never
// had `npm install`), say what to do instead of "tsc: not found".
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let tsc;
try {
  tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  console.error(`prepare: the TypeScript compiler is not installed in ${root}: run \`npm install\` there first (it installs the dev dependencies and builds), then \`npm install -g .\` if you want iiptran on PATH`);
  process.exit(1);
}
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
