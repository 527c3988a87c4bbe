import type { createHistogram } from 'node:perf_hooks';

/**
 * How a process's event loop keeps up, read when scraped: how late it came back to a timer
 * (a timer every RESOLUTION_MS records, in node:perf_hooks' histogram, the time since its
 * previous run) and the share of the time it was busy (ELU: a plugin's hook that
 * computes, a burst of TLS handshakes, a collection). A proxy on one thread answers nothing while
 * its loop is held: its latency grows with this delay before any upstream is slow, and a worker
 * whose loop is busy near 1 is saturated, its requests waiting for their turn, though no bound
 * of the contract is passed. Both read since the previous reading, so a stall between two scrapes
 * is seen however short (a window of its own would let one fall between two scrapes); with two
 * Prometheus servers, each sees what happened since either one's last scrape.
 *
 * Watching starts with a config that has `metrics` (a process without it runs no timer for it) and
 * stops with the reload that takes it away, or the gateway's close; the timer is unreferenced (it
 * keeps no process alive). Not monitorEventLoopDelay: its reset() forgets its timer's previous
 * run, so the interval a reading ends was never recorded, and a stall that began as a scrape
 * was answered went unseen by the next one.
 */
export class EventLoopWatch {
  #delay: RecordableHistogram | undefined;
  #timer: NodeJS.Timeout | undefined;
  #busySince: EventLoopUtilization | undefined;

  /** Watches (again, from now) or stops, as the config asks. */
  watch(on: boolean): void {
    if (!on) {
      clearInterval(this.#timer);
      this.#delay = undefined;
      this.#busySince = undefined;
      return;
    }
    if (this.#delay !== undefined) return;
    // Loaded with the first config that asks: a worker without metrics loads no more of perf_hooks.
    const { createHistogram } = process.getBuiltinModule('node:perf_hooks');
    const delay = createHistogram();
    delay.recordDelta();
    this.#delay = delay;
    this.#timer = setInterval(() => delay.recordDelta(), RESOLUTION_MS).unref();
    this.#busySince = performance.eventLoopUtilization();
  }

  /** What the loop did since the previous reading (or since watching began); undefined when not watching. */
  read(): EventLoopReading | undefined {
    const delay = this.#delay;
    const since = this.#busySince;
    if (delay === undefined || since === undefined) return undefined;
    const now = performance.eventLoopUtilization();
    this.#busySince = now;
    // Each sample is the time between two runs of the timer (the first, from the previous
    // reading): the interval asked, and how late it came on top. No sample yet (a scrape within
    // the first interval): nothing late was seen.
    const late = (ns: number) => Math.max(0, ns / 1e9 - RESOLUTION_MS / 1000);
    const reading: EventLoopReading = {
      delayP99: delay.count === 0 ? 0 : late(delay.percentile(99)),
      delayMax: delay.count === 0 ? 0 : late(delay.max),
      utilization: performance.eventLoopUtilization(now, since).utilization,
    };
    // Counted from now: reset() forgets the previous run, which the next would be measured from.
    delay.reset();
    delay.recordDelta();
    return reading;
  }
}

/** The timer's interval: the finest delay seen, and 100 wake-ups a second of an idle process. */
const RESOLUTION_MS = 10;

type EventLoopUtilization = ReturnType<typeof performance.eventLoopUtilization>;
type RecordableHistogram = ReturnType<typeof createHistogram>;

export interface EventLoopReading {
  /** Seconds: how late the loop came back to its timer, the 99th percentile and the longest. */
  readonly delayP99: number;
  readonly delayMax: number;
  /** 0–1: the share of the time the loop was running code rather than waiting for events. */
  readonly utilization: number;
}
