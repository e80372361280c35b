// Polls a synchronous condition until it holds, or fails naming what it waited for: the wait
// the whole-node tests over in-memory I/O share (real timers, no virtual time).

export async function until(what: string, ok: () => boolean, ms = 10000, everyMs = 5): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
