// Micro-benchmark of the ESP engine alone (no I/O): seal and open of 1400-byte payloads per
// suite. Run: npx tsc -p tsconfig.json && node dist/test/dataplane/esp-bench.js [seconds]
//
// Not a *.test.ts file, but `node --test dist/test/` runs every .js under a test/ directory,
// so it bows out when started by the test runner.

import { espOpen, espSeal, sealedLength } from '../../src/dataplane/esp-engine.js';
import { newInboundSa, newOutboundSa } from '../../src/dataplane/sa.js';
import { SUITE_NAMES, SUITES } from '../../src/dataplane/aead.js';

const PAYLOAD = 1400;

function bench(seconds: number): void {
  const payload = Buffer.alloc(PAYLOAD, 0x45);
  console.log(`ESP engine, ${PAYLOAD}-byte payloads, node ${process.version}, ${seconds}s per measurement`);
  console.log('suite               seal pkt/s   open pkt/s   seal+open pkt/s   seal+open Gbit/s');
  for (const suite of SUITE_NAMES) {
    const p = {
      spi: 0x1234, suite, key: Buffer.alloc(SUITES[suite].keyLen, 7), salt: Buffer.alloc(4, 9),
      src: '192.0.2.1', dst: '192.0.2.2',
    };
    const osa = newOutboundSa(p);
    const isa = newInboundSa({ ...p, replayWindow: 65536 });
    const len = sealedLength(osa, PAYLOAD);
    // A ring of sealed packets so open is measured on distinct, in-order sequence numbers.
    const ring = Array.from({ length: 1024 }, () => Buffer.alloc(len));

    const run = (body: (i: number) => void): number => {
      for (let i = 0; i < 2000; i++) body(i);
      let n = 0;
      const t0 = process.hrtime.bigint();
      const limit = BigInt(Math.round(seconds * 1e9));
      let dt = 0n;
      while (dt < limit) {
        for (let i = 0; i < 256; i++) body(n++);
        dt = process.hrtime.bigint() - t0;
      }
      return (n * 1e9) / Number(dt);
    };

    const sealRate = run((i) => {
      espSeal(osa, payload, 4, ring[i & 1023]!, 0);
    });
    // Open needs fresh sequence numbers: reseal a slot, then open it. Subtract the seal share.
    const bothRate = run((i) => {
      const b = ring[i & 1023]!;
      espSeal(osa, payload, 4, b, 0);
      const r = espOpen(isa, b);
      if (typeof r === 'string') throw new Error(`open failed: ${r}`);
    });
    const openRate = 1 / (1 / bothRate - 1 / sealRate);
    const gbit = (bothRate * PAYLOAD * 8) / 1e9;
    console.log(
      `${suite.padEnd(18)} ${sealRate.toFixed(0).padStart(11)}  ${openRate.toFixed(0).padStart(11)}  ` +
      `${bothRate.toFixed(0).padStart(16)}  ${gbit.toFixed(2).padStart(17)}`,
    );
  }
}

if (process.env['NODE_TEST_CONTEXT'] === undefined) {
  const secs = Number(process.argv[2] ?? '1');
  bench(Number.isFinite(secs) && secs > 0 ? secs : 1);
}
