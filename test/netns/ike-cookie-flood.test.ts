// COOKIE mode under an IKE_SA_INIT flood, between two real daemons in namespaces: node a's
// namespace floods node b's IKE port with 2000 well-formed IKE_SA_INIT requests from 100 source
// ports. b must switch to cookies at its threshold (default 10 half-open SAs), keep no more
// half-open SAs than that, stay up, and still let a re-establish its vlink (echoing a cookie)
// while the flood's half-open SAs are still waiting to expire.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PairLab, REPO_ROOT } from '../../src/lab/pair-lab.js';
import { nsExec, parsePing } from '../../src/lab/netns.js';
import { uniquePrefix, netnsSkip } from './helpers.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = netnsSkip(['ip', 'ping']);
const FLOOD = path.join(REPO_ROOT, 'dist', 'test', 'netns', 'ike-flood.js');

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

describe('IKE_SA_INIT flood: COOKIE mode', { skip }, () => {
  const lab = new PairLab({ prefix: uniquePrefix('ck'), keying: 'ikev2' });
  before(async () => {
    await lab.up();
  });
  after(async () => {
    await lab.down();
  });

  test('2000 IKE_SA_INITs from 100 ports: cookies past 10 half-open SAs, bounded state, the real peer still gets in', async () => {
    const b0 = (await lab.show(lab.b, 'ike')) as Obj;
    const spiBefore = b0.peers[0].sas.find((s: Obj) => s.state === 'ESTABLISHED').spiI;
    const pid = lab.b.proc!.pid!;
    const rss0 = rssKb(pid);
    const t0 = Date.now();
    const r = await nsExec(lab.a.ns, [process.execPath, FLOOD, lab.b.underlay, '2000', '100'], { timeoutMs: 60000 });
    const floodMs = Date.now() - t0;
    const flood = JSON.parse(r.stdout.trim()) as Obj;
    const v = (await lab.show(lab.b, 'ike')) as Obj;
    const st = v.stats as Obj;
    const rss1 = rssKb(pid);
    console.log(`# flood: ${flood.sent} IKE_SA_INIT (b read ${st.rx - b0.stats.rx}) in ${floodMs} ms (incl. 1 s drain); b answered ${flood.answers}: ${flood.sas} SA responses, ${flood.cookies} COOKIEs; ` +
      `b: rx ${st.rx}, halfOpen ${st.halfOpen}, cookies sent ${st.cookies.sent}, dropped ${JSON.stringify(st.dropped)}; RSS ${rss0} -> ${rss1} kB`);
    assert.equal(st.halfOpen, 10, 'exactly the threshold of half-open SAs, no more');
    assert.equal(st.cookieMode, true);
    assert.equal(flood.sas, 10, 'only the first 10 requests cost a DH and an SA');
    // Under a flood the kernel may drop some datagrams before the daemon reads them (socket
    // buffer); every one the daemon did read, past the first 10, was answered with a cookie.
    const got = st.rx - b0.stats.rx;
    // How many the kernel sheds depends on machine load (seen: 400..600 of 2000 on a busy
    // 2-core CI box), so only require that a real flood arrived; the exact checks below hold
    // for whatever number did.
    assert.ok(got >= 500, `b read only ${got} of 2000`);
    assert.equal(st.cookies.sent, got - 10);
    assert.equal(st.dropped['cookie-required'], st.cookies.sent);
    assert.ok(flood.cookies >= 0.9 * st.cookies.sent, `flooder received ${flood.cookies} of ${st.cookies.sent} cookies`);
    assert.ok(rss1 - rss0 < 32 * 1024, `RSS grew by ${rss1 - rss0} kB`);
    assert.match(lab.logs(lab.b), /half-open IKE SAs \(cookie threshold 10\): IKE_SA_INIT without a COOKIE; answered with a COOKIE, no state kept/);

    // The legitimate peer re-keys from scratch (its daemon restarts: a clean stop deletes its IKE
    // SA, the new one starts from IKE_SA_INIT) while the flood's half-open SAs are still there:
    // it has to come through with a cookie.
    const t1 = Date.now();
    await lab.stopNode(lab.a);
    await lab.startNode(lab.a);
    let ms = 0;
    for (;;) {
      const va = (await lab.show(lab.a, 'ike')) as Obj;
      const sa = va.peers[0]?.sas.find((s: Obj) => s.state === 'ESTABLISHED' && s.spiI !== spiBefore);
      if (sa !== undefined && sa.children.length > 0) {
        ms = Date.now() - t1;
        break;
      }
      assert.ok(Date.now() - t1 < 15000, `a did not re-establish in 15 s:\n${lab.logs(lab.a).slice(-3000)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    const after = ((await lab.show(lab.b, 'ike')) as Obj).stats as Obj;
    console.log(`# legitimate peer re-established through COOKIE mode in ${ms} ms; b cookies accepted ${after.cookies.accepted}, halfOpen ${after.halfOpen}`);
    assert.ok(after.cookies.accepted >= 1, 'a echoed a cookie');
    // The restarted daemon's new TUN came without a's static VN route.
    await nsExec(lab.a.ns, ['ip', 'route', 'replace', `${lab.b.vn}/32`, 'via', lab.b.vlinkAddr, 'dev', lab.a.vlink, 'src', lab.a.vn]);
    await lab.waitReachable();
    const ping = parsePing((await nsExec(lab.a.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '-I', lab.a.vn, lab.b.vn], { allowFail: true })).stdout);
    assert.equal(ping.received, 3);
  });
});
