// The task queue of an IKE SA (tasks/manager.ts): one request in flight, tasks built when their
// turn comes (so they see current state), skipped when they have nothing left to send, and the
// queue moving on after a response or after the retransmissions ran out.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { EnginePair, type PairOptions } from './engine-harness.js';
import { ExchangeType, NotifyType, notify, type PayloadRepr } from '../../src/wire/ike/index.js';
import type { IkeSa } from '../../src/ike/ike-sa.js';
import type { IkeTask } from '../../src/ike/tasks/manager.js';

let pair: EnginePair | null = null;
afterEach(() => {
  pair?.stop();
  pair = null;
});

/** An INFORMATIONAL task that records what happens to it. */
class Probe implements IkeTask {
  readonly kind = 'dpd';
  readonly exchange = ExchangeType.INFORMATIONAL;
  constructor(private readonly name: string, private readonly events: string[], private readonly skip = false) {}
  build(sa: IkeSa): PayloadRepr[] | null {
    this.events.push(`build ${this.name} (busy ${sa.tasks.busy})`);
    // A status notify the peer ignores, so each request is distinguishable on the wire.
    return this.skip ? null : [notify(NotifyType.INITIAL_CONTACT + 100)];
  }
  process(): void {
    this.events.push(`process ${this.name}`);
  }
  giveUp(_sa: IkeSa, tries: number): void {
    this.events.push(`give up ${this.name} after ${tries}`);
  }
}

async function up(filter?: PairOptions['filter']): Promise<EnginePair> {
  const p = (pair = new EnginePair(filter === undefined ? {} : { filter }));
  p.start();
  await p.until(() => p.state(p.a) === 'ESTABLISHED' && p.state(p.b) === 'ESTABLISHED' && p.a.installed.length > 0);
  return p;
}

const requests = (p: EnginePair) => p.sent('a', ExchangeType.INFORMATIONAL, false);

test('tasks run one at a time, in order, each built only when the window is free', async () => {
  const p = await up();
  const sa = p.a.engine.sa('vl-b')!;
  const events: string[] = [];
  sa.tasks.queue(new Probe('one', events));
  sa.tasks.queue(new Probe('two', events));
  sa.tasks.queue(new Probe('skipped', events, true));
  sa.tasks.queue(new Probe('three', events));
  // Same turn: only the first request is out, the rest wait unbuilt.
  assert.equal(requests(p).length, 1);
  assert.deepEqual(events, ['build one (busy false)']);
  assert.ok(sa.tasks.busy);
  await p.until(() => events.includes('process three'));
  assert.deepEqual(events, [
    'build one (busy false)', 'process one',
    'build two (busy false)', 'process two',
    'build skipped (busy false)', 'build three (busy false)', 'process three',
  ]);
  // Three requests, consecutive message IDs, each sent after the previous response.
  const ids = requests(p).map((f) => f.d.data.readUInt32BE(20));
  assert.deepEqual(ids, [ids[0], ids[0]! + 1, ids[0]! + 2]);
  const order = p.wire.filter((f) => f.d.data[18] === ExchangeType.INFORMATIONAL).map((f) => `${f.from}${(f.d.data[19]! & 0x20) !== 0 ? ' response' : ' request'}`);
  assert.deepEqual(order, ['a request', 'b response', 'a request', 'b response', 'a request', 'b response']);
  assert.ok(!sa.tasks.busy);
});

test('a task whose request goes unanswered gives up after the retransmissions, and the queue moves on', async () => {
  let silent = false;
  const p = await up((f) => (silent && f.from === 'b' ? 'drop' : 'pass'));
  const sa = p.a.engine.sa('vl-b')!;
  const events: string[] = [];
  silent = true;
  sa.tasks.queue(new Probe('lost', events));
  sa.tasks.queue(new Probe('next', events));
  // Harness retransmission: 40 + 80 + 160 + 320 ms.
  await p.advance(599);
  assert.deepEqual(events, ['build lost (busy false)']);
  silent = false;
  await p.advance(1);
  assert.deepEqual(events.slice(0, 2), ['build lost (busy false)', 'give up lost after 4']);
  await p.until(() => events.includes('process next'));
  assert.equal(requests(p).length, 5, 'four copies of the lost request, then the next one');
});

test('nothing queued starts while another request of ours (not a task) holds the window', async () => {
  const p = await up();
  const sa = p.a.engine.sa('vl-b')!;
  const events = [] as string[];
  const id = sa.takeRequestId();
  sa.request(ExchangeType.INFORMATIONAL, id, sa.sk!.seal(sa.header(ExchangeType.INFORMATIONAL, false, id), []), () => {});
  sa.tasks.queue(new Probe('waits', events));
  assert.equal(events.length, 0);
  await p.until(() => events.includes('process waits'));
  assert.equal(requests(p).length, 2);
});
