// Runs inside a throwaway namespace (spawned by guard.test.ts): one OsGuard operation, then
// the guard's state read back from the kernel as one JSON line.
//   guard-child.js apply '{"prefixes":[...],"vlinks":[...]}' | remove | state

import { OsGuard, type GuardSpec } from '../../src/io/guard.js';

const g = new OsGuard();
const [op, arg] = process.argv.slice(2);
try {
  let before: unknown = null;
  if (op === 'apply') before = await g.apply(JSON.parse(arg!) as GuardSpec);
  else if (op === 'remove') await g.remove();
  else if (op !== 'state') throw new Error(`unknown op ${op}`);
  console.log(JSON.stringify({ ok: true, before, state: await g.state() }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, code: (e as { code?: string }).code, message: (e as Error).message }));
}
