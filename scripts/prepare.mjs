#!/usr/bin/env node
// npm's `prepare`: compiles the TypeScript to dist/. npm runs it after `npm install` in a clone,
// before `npm pack`, and when installing the repository itself (`npm install -g git+https://...`
// or `npm install -g ./clone`). In those last two, npm 10 and 11 run it without the dev
// dependencies (the preparing `npm install` inherits --global and installs nothing here), so
// tsc is missing: then they are installed into this directory first, scripts off.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const tsc = () => {
  try {
    return require.resolve('typescript/bin/tsc');
  } catch {
    return null;
  }
};

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`prepare: ${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
    process.exit(1);
  }
}

if (tsc() === null) {
  console.error('prepare: TypeScript is not installed here; installing the dev dependencies into this directory');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_(global|prefix|location|omit|production)$/i.test(k)));
  run('npm', ['install', '--no-save', '--ignore-scripts', '--include=dev', '--no-audit', '--no-fund', '--location=project'], env);
  if (tsc() === null) {
    console.error('prepare: still no TypeScript compiler after npm install; run `npm install` in this directory');
    process.exit(1);
  }
}
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
run(process.execPath, [tsc(), '-p', 'tsconfig.json']);
