// An FRR daemon's vty socket spoken directly (what vtysh does), so polling a lab's FRR daemons
// costs a socket each instead of a vtysh process each. A command is sent NUL-terminated; the
// reply is its text followed by three NUL bytes and a status byte (0 success, 1 warning,
// 2 unknown command, 3 incomplete, ...). A vtysh connection starts in the view node, where
// some daemons (bfdd) have no show commands, so `enable` goes first, as vtysh does.

import net from 'node:net';
import { IiptranError } from '../errors.js';

export interface FrrReply {
  /** CMD_SUCCESS = 0; anything else is an error the text explains. */
  status: number;
  text: string;
}

/** The end of a reply in `buf` (the index of its three NULs), or -1 while it is incomplete. */
export function replyEnd(buf: Buffer): number {
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 0) return i;
  }
  return -1;
}

/** Sends `enable` and then each command; resolves with the reply to each, in order. */
export function frrCommands(socket: string, commands: string[], timeoutMs = 3000): Promise<FrrReply[]> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socket);
    const queue = ['enable', ...commands];
    const replies: FrrReply[] = [];
    let buf = Buffer.alloc(0);
    const done = (err: Error | null) => {
      clearTimeout(timer);
      c.destroy();
      if (err !== null) reject(err);
      else resolve(replies.slice(1));
    };
    const timer = setTimeout(() => done(new IiptranError('IIPTRAN_ERR_LAB', `FRR on ${socket} did not answer within ${timeoutMs} ms`)), timeoutMs);
    c.on('connect', () => c.write(`${queue[0]}\0`));
    c.on('error', (e: NodeJS.ErrnoException) => done(new IiptranError('IIPTRAN_ERR_LAB', `cannot reach FRR on ${socket} (${e.code ?? e.message})`)));
    c.on('close', () => done(new IiptranError('IIPTRAN_ERR_LAB', `FRR on ${socket} closed the connection after ${replies.length} of ${queue.length} replies`)));
    c.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = replyEnd(buf);
        if (end < 0) return;
        replies.push({ status: buf[end + 3]!, text: buf.subarray(0, end).toString('utf8') });
        buf = buf.subarray(end + 4);
        if (replies.length === queue.length) return done(null);
        c.write(`${queue[replies.length]}\0`);
      }
    });
  });
}

/** One command; rejects when the daemon refuses it (status not 0), with its message. */
export async function frrCommand(socket: string, command: string, timeoutMs = 3000): Promise<string> {
  const [r] = await frrCommands(socket, [command], timeoutMs);
  if (r!.status !== 0) throw new IiptranError('IIPTRAN_ERR_LAB', `FRR on ${socket}: "${command}" failed (status ${r!.status}): ${r!.text.trim()}`);
  return r!.text;
}

/** Whether the daemon answers on its vty socket (it opens it once its config is loaded). */
export function frrReady(socket: string, timeoutMs = 2000): Promise<boolean> {
  return frrCommands(socket, [], timeoutMs).then(() => true, () => false);
}
