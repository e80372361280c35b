import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createNetns, deleteNetns, runInNetns } from './netns.js';
import { netnsSkip } from '../netns/helpers.js';

describe('Tun (real TUN in a namespace)', { skip: netnsSkip(['ip', 'ping']) }, () => {
  const namespaces: string[] = [];
  after(() => namespaces.forEach(deleteNetns));

  it('reads an echo request, writes the reply ping receives, and drives MTU/carrier/up', async () => {
    const ns = createNetns('io-tun');
    namespaces.push(ns);
    try {
      const r = await runInNetns(ns, 'tun-child.js', []);
      const f = r.json;
      assert.ok(f, `child printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
      assert.equal(f.error, undefined, String(f.error));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(f.name, 'iit0');
      assert.ok(typeof f.ifindex === 'number' && f.ifindex > 0);
      assert.equal(f.mtuRead, 1400);
      assert.equal(f.mtuShown, true, 'ip link shows mtu 1400');
      assert.equal(f.noCarrierWhenOff, true, 'setCarrier(false) shows NO-CARRIER');
      assert.equal(f.noCarrierWhenOn, false, 'setCarrier(true) clears NO-CARRIER');
      assert.ok((f.requestsSeen as number) >= 1, 'echo request read from the TUN');
      assert.equal(f.replyWritten, 1);
      assert.equal(f.headroomEveryPacket, true, 'each packet starts READ_HEADROOM bytes into its slot');
      assert.equal(f.pingExit, 0, 'ping got its reply');
      assert.equal(f.pingReceived, true);
      assert.equal(f.writeWhenDown, 0, 'write into a down TUN is refused, not thrown');
      assert.equal(f.writeErrors, 1);
      assert.equal(f.lastErrno, 5, 'EIO');
      assert.equal(f.readingBeforeClose, true);
      assert.equal(f.readingAfterClose, false);
      assert.equal(f.goneAfterClose, true, 'closing the fd removes the TUN');
    } finally {
      deleteNetns(ns);
    }
  });
});
