// The tests' program check (test/netns/helpers.ts): a missing outside program skips only a
// non-root run outside CI; as root or under CI=true it fails the file at once, naming the
// Debian package. Proven with a program that does not exist.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { missingPrograms, type ProgramInfo } from '../../src/tools/doctor-programs.js';
import { netnsSkip, requirePrograms } from '../netns/helpers.js';

const FAKE: Readonly<Record<string, ProgramInfo>> = {
  'iit-no-such-program': { pkg: 'iit-no-such-package', level: 'required', usedBy: 'this test' },
  sh: { pkg: 'dash', level: 'required', usedBy: 'this test' },
};

describe('requirePrograms / netnsSkip: a missing program fails the test where it must run', () => {
  test('missingPrograms reports a program that does not exist, with its package', () => {
    assert.deepEqual(missingPrograms(['sh', 'iit-no-such-program'], FAKE), [{ what: 'iit-no-such-program', pkg: 'iit-no-such-package' }]);
  });

  test('a name the table does not know is an error, not a silent pass', () => {
    assert.throws(() => missingPrograms(['iit-unknown']), /no Debian package is known for program "iit-unknown"/);
    assert.throws(() => requirePrograms(['iit-unknown'], { root: false, ci: false }), /no Debian package is known/);
  });

  test('as root, a missing program throws naming the Debian package', () => {
    assert.throws(() => requirePrograms(['iit-no-such-program'], { root: true, ci: false, table: FAKE }), /iit-no-such-program \(Debian package iit-no-such-package\).*apt-get install iit-no-such-package/);
    assert.throws(() => netnsSkip(['iit-no-such-program'], { root: true, ci: false, table: FAKE }), /iit-no-such-package/);
  });

  test('under CI=true it throws even without root', () => {
    assert.throws(() => requirePrograms(['iit-no-such-program'], { root: false, ci: true, table: FAKE }), /iit-no-such-package/);
    assert.throws(() => netnsSkip(['sh'], { root: false, ci: true, table: FAKE }), /CI=true but not running as root/);
  });

  test('only a non-root run outside CI skips, and says why', () => {
    assert.equal(requirePrograms(['iit-no-such-program'], { root: false, ci: false, table: FAKE }), 'not installed: iit-no-such-program (Debian package iit-no-such-package)');
    assert.equal(requirePrograms(['sh'], { root: false, ci: false, table: FAKE }), false, 'nothing missing: the unit test runs');
    assert.match(String(netnsSkip(['sh'], { root: false, ci: false, table: FAKE })), /^needs root/);
    assert.match(String(netnsSkip(['iit-no-such-program'], { root: false, ci: false, table: FAKE })), /needs root.*iit-no-such-package/);
  });

  test('as root with everything present, nothing is skipped', () => {
    assert.equal(netnsSkip(['sh'], { root: true, ci: true, table: FAKE }), false);
  });
});
