// One read at a time, and one more after it when asked meanwhile: a page that re-reads its
// data on the hall bus's events (they come in bursts) reads once per burst, never twice at
// once, and never misses the last change.

/**
 * @param {() => Promise<void>} read  reads and draws (catches its own refusals)
 * @param {number} [delay]  how long `soon()` waits for the rest of a burst (ms)
 * @returns {{now: () => Promise<void>, soon: (wait?: number) => void}}
 */
export function coalesced(read, delay = 150) {
  let timer = null;
  let running = null;
  let again = false;

  /** Read after `wait` ms, unless a read is already due. */
  function soon(wait = delay) {
    if (timer) return;
    timer = setTimeout(() => { timer = null; now(); }, wait);
  }

  /** Read now; while a read runs, one more follows it. */
  function now() {
    if (running) { again = true; return running; }
    running = (async () => {
      try {
        await read();
      } finally {
        running = null;
        if (again) { again = false; soon(0); }
      }
    })();
    return running;
  }

  return { now, soon };
}
