// The requests one IKE SA sends once it is ESTABLISHED, in the shape of strongSwan charon's task
// manager: work is queued as tasks (CHILD_SA rekey, IKE SA rekey, deletes, DPD, ...), and the
// window of one (RFC 7296 §2.3) allows one request in flight at a time. A task builds its
// request when its turn comes, not when it is queued, so what it sends reflects the SA's state
// at that moment (or it steps aside: build returns null); it processes the response, or learns
// that the retransmissions ran out. The next queued task starts as soon as the window is free.
//
// IKE_SA_INIT and IKE_AUTH run before the SA is established (exchange-init.ts,
// exchange-auth.ts); they hold the window through IkeSa.request too, and nothing queued here
// starts until they are done.

import type { PayloadRepr } from '../../wire/ike/index.js';
import type { IkeSa } from '../ike-sa.js';

export type TaskKind =
  | 'child-rekey'
  | 'ike-rekey'
  | 'child-delete'
  | 'ike-delete'
  | 'dpd';

export interface IkeTask {
  readonly kind: TaskKind;
  /** Exchange type of the request. */
  readonly exchange: number;
  /** The request's inner payloads, or null if the task has nothing left to do. */
  build(sa: IkeSa): PayloadRepr[] | null;
  /** The response's (authenticated) inner payloads. */
  process(sa: IkeSa, ps: readonly PayloadRepr[]): void;
  /** The request went unanswered through all its retransmissions. */
  giveUp(sa: IkeSa, tries: number): void;
}

export class TaskManager {
  private readonly queued: IkeTask[] = [];
  private current: { task: IkeTask; messageId: number } | null = null;
  private starting = false;

  constructor(private readonly sa: IkeSa) {}

  /** The task whose request is in flight. */
  get active(): IkeTask | null {
    return this.current?.task ?? null;
  }

  /** A request of ours is in flight, a task's or IKE_AUTH's: the window is taken. */
  get busy(): boolean {
    return this.sa.requestPending;
  }

  /** Whether a task of this kind is in flight or waiting. */
  has(kind: TaskKind): boolean {
    return this.current?.task.kind === kind || this.queued.some((t) => t.kind === kind);
  }

  /** Queues a task (`first`: ahead of the others); it starts at once if the window is free. */
  queue(task: IkeTask, first = false): void {
    if (first) this.queued.unshift(task);
    else this.queued.push(task);
    this.next();
  }

  /** Starts the next task that still has something to send, if the window is free. */
  next(): void {
    if (this.starting) return;
    this.starting = true;
    try {
      const sa = this.sa;
      while (this.current === null && !sa.requestPending && sa.state === 'ESTABLISHED' && sa.sk !== null) {
        const task = this.queued.shift();
        if (task === undefined) return;
        const payloads = task.build(sa);
        if (payloads === null) continue;
        const id = sa.takeRequestId();
        this.current = { task, messageId: id };
        sa.request(task.exchange, id, sa.sk.seal(sa.header(task.exchange, false, id), payloads), (tries) => {
          if (this.current?.task !== task) return;
          this.current = null;
          task.giveUp(sa, tries);
          this.next();
        });
      }
    } finally {
      this.starting = false;
    }
  }

  /** An authenticated response the engine already matched to our outstanding request. True if it was a task's. */
  onResponse(messageId: number, ps: readonly PayloadRepr[]): boolean {
    const c = this.current;
    if (c === null || c.messageId !== messageId) return false;
    this.current = null;
    c.task.process(this.sa, ps);
    this.next();
    return true;
  }

  /** The SA is gone: nothing queued will run. */
  clear(): void {
    this.queued.length = 0;
    this.current = null;
  }
}
