// The start-up warm-up runs the real packet paths over throwaway SAs: it must work with both
// engines, leave nothing behind, and be quick enough for a daemon's start.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { warmDataPath } from '../../src/dataplane/warmup.js';
import { loadEspCrypto } from '../../src/io/esp-native.js';

test('warmDataPath runs with the addon and with the JS engine, in well under a second per 1000 rounds', () => {
  for (const crypto of [loadEspCrypto(), null]) {
    const t0 = process.hrtime.bigint();
    warmDataPath(crypto, 1000);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(ms < 3000, `${crypto ? 'native' : 'js'}: ${ms.toFixed(0)} ms`);
  }
});
