// In-memory Guard for unit tests of control/ without root: holds what the kernel would, and
// records every call in order so tests can check when the guard went up, changed and went.

import { emptyGuardState, guardError, type Guard, type GuardSpec, type GuardState } from './guard.js';

export class FakeGuard implements Guard {
  /** What the "kernel" holds; survives the node like the real table does. */
  current: GuardState = emptyGuardState();
  readonly calls: { op: 'apply' | 'remove'; spec?: GuardSpec }[] = [];
  /** Make the next apply fail, as a missing nft would. */
  failApply = false;

  async apply(spec: GuardSpec): Promise<GuardState> {
    if (this.failApply) throw guardError('installing nft table inet iiptran_guard', 'nft is not installed (fake)');
    const before = structuredClone(this.current);
    this.calls.push({ op: 'apply', spec: structuredClone(spec) });
    this.current = { table: true, routes: [...spec.prefixes], prefixes: [...spec.prefixes], allowed: ['lo', ...spec.vlinks], drops: structuredClone(before.drops) };
    return before;
  }

  async remove(): Promise<void> {
    this.calls.push({ op: 'remove' });
    this.current = emptyGuardState();
  }

  async state(): Promise<GuardState> {
    return structuredClone(this.current);
  }
}
