// Error codes are public interface: every code in src/errors.ts is documented in the README's
// "Error codes" table, every documented code exists, and every code is actually raised
// somewhere in src/ (a documented code nothing throws misleads scripts that match on it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (p: string) => fs.readFileSync(path.join(ROOT, p), 'utf8');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('every error code is declared, documented and raised', () => {
  const declared = [...read('src/errors.ts').matchAll(/\|\s*'(IIPTRAN_ERR_[A-Z_]+)'/g)].map((m) => m[1]!).sort();
  assert.ok(declared.length >= 5, `found ${declared.length} codes in src/errors.ts`);

  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('### Error codes'), readme.indexOf('## Node config reference'));
  const documented = [...section.matchAll(/^\| `(IIPTRAN_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]!).sort();
  assert.deepEqual(documented, declared, 'README "Error codes" table and src/errors.ts list the same codes');

  // Raised: the code appears in a source file other than errors.ts, or its subclass there is constructed.
  const errorsTs = read('src/errors.ts');
  const others = sourceFiles('src').filter((f) => !f.endsWith(path.join('src', 'errors.ts'))).map(read).join('\n');
  const unused = declared.filter((code) => {
    if (others.includes(`'${code}'`)) return false;
    const block = errorsTs.split('export class ').find((b) => b.includes(`super('${code}'`));
    const cls = block === undefined ? undefined : /^(\w+) extends IiptranError/.exec(block)?.[1];
    return cls === undefined || !new RegExp(`new ${cls}\\(`).test(others);
  });
  assert.deepEqual(unused, [], 'codes never raised in src/');
});

// The compiled output, not the .ts text: it is what runs, and a throw assembled by a helper or
// a re-export still shows there as `throw new Error(`.
function compiledFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? compiledFiles(p) : p.endsWith('.js') ? [p] : [];
  });
}

test('nothing in src/ throws a bare Error: every error carries a stable code', () => {
  const files = compiledFiles(path.join(ROOT, 'dist', 'src'));
  assert.ok(files.length >= 50, `found ${files.length} compiled files under dist/src`);
  const bare = files.flatMap((f) => fs.readFileSync(f, 'utf8').split('\n')
    .flatMap((line, i) => (/\bthrow\s+(new\s+)?Error\(/.test(line) ? [`${path.relative(ROOT, f)}:${i + 1}: ${line.trim()}`] : [])));
  assert.deepEqual(bare, [], 'use the IiptranError hierarchy (src/errors.ts) instead');
});
