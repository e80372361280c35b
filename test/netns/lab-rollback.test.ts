// `lab up` failing half way (injected with IIPTRAN_LAB_FAIL_AT) must roll back everything it
// created, including running daemons; topology errors exit 2 and name the field; `lab down`
// also cleans up after a `lab up` that was killed outright.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { netnsSkip } from './helpers.js';
import { assertGone, cli, topologyCopy } from './lab-harness.js';
import { listNs } from '../../src/lab/netns.js';

const skip = netnsSkip(['ip', 'sysctl', 'nft', 'bird', 'birdc', 'fping']);

describe('lab: rollback and clean-up', { skip }, () => {
  for (const step of ['underlay', 'routing']) {
    test(`failure injected at step ${step} rolls back cleanly`, async () => {
      const t = topologyCopy('nat.yaml', 'rb');
      try {
        const r = await cli(['lab', 'up', t.file], { IIPTRAN_LAB_FAIL_AT: step });
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stderr, new RegExp(`injected failure at step "${step}"`));
        assert.match(r.stdout, /rolling back/);
        if (step === 'routing') assert.match(r.stdout, /stopped|removed \d+ namespaces and [1-9]\d* processes/);
        await assertGone(t.name);
      } finally {
        await cli(['lab', 'down', t.name]);
      }
    });
  }

  test('lab down cleans up after lab up was killed mid-way', async () => {
    const t = topologyCopy('triangle.yaml', 'kill');
    const { spawn } = await import('node:child_process');
    const { REPO_ROOT } = await import('../../src/lab/pair-lab.js');
    const p = spawn(process.execPath, [`${REPO_ROOT}/bin/iiptran.js`, 'lab', 'up', t.file], { stdio: 'ignore' });
    try {
      // Kill it once the daemons exist: the worst moment, with processes and namespaces live.
      const t0 = Date.now();
      while (!fs.existsSync(`/run/iiptran/lab/${t.name}/c/iiptran.sock`) && Date.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 50));
      p.kill('SIGKILL');
      assert.ok((await listNs()).some((n) => n.startsWith(`iil-${t.name}-`)), 'lab was half up');
    } finally {
      const r = await cli(['lab', 'down', t.name]);
      assert.equal(r.code, 0, r.stderr);
    }
    await assertGone(t.name);
  });

  test('topology errors exit 2 and name the field', async () => {
    const t = topologyCopy('triangle.yaml', 'bad');
    fs.writeFileSync(t.file, fs.readFileSync(t.file, 'utf8').replace('  - [c, lan]', '  - [c, lna]').replace('routing: bird', 'routng: bird'));
    const r = await cli(['lab', 'up', t.file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /underlay\[2\]\[1\]: "lna" is not a declared node, router or segment/);
    assert.match(r.stderr, /routng: unknown field; did you mean "routing"\?/);
    assert.match(r.stderr, /IIPTRAN_ERR_TOPOLOGY/);
    assert.equal((await listNs()).filter((n) => n.startsWith(`iil-${t.name}-`)).length, 0);
  });
});
