// `iiptran show VIEW --watch`: the view again every interval, like watch(1). On a terminal each
// frame replaces the last in place; into a pipe or file the frames follow each other (with
// --json, one JSON document per line). Ctrl-C (SIGINT) or SIGTERM ends it with exit status 0,
// after the frame being drawn, never halfway through one.

import { IiptranError } from '../errors.js';

/** Cursor home, then clear to the end of the screen: the next frame overwrites the last. */
const HOME_CLEAR = '\x1b[H\x1b[2J';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';

export interface WatchOptions {
  intervalMs: number;
  /** The first line of each frame, e.g. "Every 1.0s: iiptran show routes". */
  title: string;
  /** Draw in place (a terminal) or append frames (a pipe). */
  tty: boolean;
  /** Frames are compact JSON documents, one per line, nothing else. */
  json: boolean;
  write: (s: string) => void;
  /** Fetches the frame's content: the view as text, or as JSON with `json`. */
  frame: () => Promise<string>;
  /** Ends the watch: resolves on SIGINT or SIGTERM unless given (tests). */
  stop?: Promise<void>;
}

export function parseInterval(s: number): number {
  if (!(s >= 0.1 && s <= 3600)) throw new IiptranError('IIPTRAN_ERR_USAGE', `--interval: must be 0.1..3600 seconds, got ${s}`);
  return Math.round(s * 1000);
}

function signalStop(): { done: Promise<void>; off: () => void } {
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const on = () => resolve();
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return { done, off: () => (process.off('SIGINT', on), process.off('SIGTERM', on)) };
}

export async function watch(o: WatchOptions): Promise<number> {
  const sig = o.stop === undefined ? signalStop() : null;
  const stop = o.stop ?? sig!.done;
  let stopped = false;
  void stop.then(() => (stopped = true));
  let frames = 0;
  if (o.tty && !o.json) o.write(HIDE_CURSOR);
  try {
    while (!stopped) {
      let body: string;
      try {
        body = await o.frame();
      } catch (e) {
        // Like watch(1): a daemon that went away is shown, and the next frame tries again.
        body = o.json ? JSON.stringify({ error: (e as Error).message, code: (e as IiptranError).code ?? null }) : `error: ${(e as Error).message}`;
      }
      if (stopped) break;
      if (o.json) o.write(body + '\n');
      else o.write(`${o.tty ? HOME_CLEAR : frames > 0 ? '\n' : ''}${o.title}    ${new Date().toISOString()}\n\n${body}\n`);
      frames++;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stop, new Promise((r) => (timer = setTimeout(r, o.intervalMs)))]);
      clearTimeout(timer);
    }
  } finally {
    if (o.tty && !o.json) o.write(SHOW_CURSOR);
    sig?.off();
  }
  return frames;
}
