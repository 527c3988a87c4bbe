import type { DrainConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { Listener } from '../../proxy/accept/listener.ts';

/** After the deadline cut every connection, how long the servers get to report themselves closed. */
const CLOSE_GRACE_MS = 1_000;

/**
 * A gateway's way out, on SIGTERM (DESIGN.md: not-ready, delay, stop accepting, deadline):
 *
 * 1. `draining` turns true at once: the readiness probe answers 503 from then on.
 * 2. `delay`: requests are still served while a load balancer notices, each HTTP/1.1 answer
 *    saying `Connection: close` (a kept-alive client would not leave its connection otherwise).
 * 3. The listeners stop accepting; idle keep-alive connections close, busy ones after their
 *    response (with `Connection: close` where its head has not left yet).
 * 4. At `timeout` (counted from the signal) every connection still open is cut, tunnels
 *    included. Each session still writes its log line when its connection closes.
 *
 * `now()` (a second SIGTERM or SIGINT) skips to step 4. The library's `close()` runs the same
 * drain without step 2: no close waits past `timeout`, whatever a connection does (a tunnel
 * whose sides keep talking would otherwise hold it as long as they do).
 */
export class Drain {
  /** The listeners to drain, read when it runs: a reload may have added some, and removed some still closing. */
  readonly #listeners: () => readonly Listener[];
  /** The drain settings of the config in force when the drain begins (a reload may have changed them). */
  readonly #config: () => DrainConfig;
  readonly #logger: Logger;
  #started: Promise<void> | undefined;
  #hurry: () => void = () => {};
  readonly #hurried = new Promise<void>((resolve) => {
    this.#hurry = resolve;
  });

  constructor(listeners: () => readonly Listener[], config: () => DrainConfig, logger: Logger) {
    this.#listeners = listeners;
    this.#config = config;
    this.#logger = logger;
  }

  get started(): boolean {
    return this.#started !== undefined;
  }

  /**
   * Runs the drain once; a second call returns the same promise. `withDelay: false` (a program's
   * own close) stops accepting at once: nobody is waiting for a load balancer to notice.
   */
  run({ withDelay = true }: { withDelay?: boolean } = {}): Promise<void> {
    this.#started ??= this.#run(withDelay);
    return this.#started;
  }

  /** Ends the drain at once: whatever is still open is cut now. */
  now(): void {
    this.#hurry();
  }

  async #run(withDelay: boolean): Promise<void> {
    const { timeout } = this.#config();
    const listeners = this.#listeners();
    const delay = withDelay ? this.#config().delay : 0;
    const startedAt = performance.now();
    let deadlineTimer: NodeJS.Timeout | undefined;
    const deadline = Promise.race([
      new Promise<'deadline'>((resolve) => {
        deadlineTimer = setTimeout(() => resolve('deadline'), timeout);
      }),
      this.#hurried.then(() => 'hurried' as const),
    ]);
    this.#logger.info({ delay_ms: delay, timeout_ms: timeout }, 'draining: not ready');
    // A kept-alive client sends its next request on its connection whatever the balancer says:
    // each is told to close it (the answer says so), so it moves off during the delay.
    for (const listener of listeners) listener.closeAfterAnswers();
    try {
      if (delay > 0) await Promise.race([wait(delay), deadline]);
      const closed = Promise.all(listeners.map((l) => l.stopAccepting())).then(() => 'closed' as const);
      this.#logger.info('draining: stopped accepting');
      const outcome = await Promise.race([closed, deadline]);
      if (outcome !== 'closed') {
        const why = outcome === 'deadline' ? 'deadline' : 'signal';
        const cut = listeners.reduce((sum, l) => sum + l.cutConnections(why), 0);
        this.#logger.warn(
          { connections: cut, reason: outcome },
          outcome === 'deadline'
            ? 'drain deadline passed: connections still open were cut'
            : 'drain ended at once (second signal): connections still open were cut',
        );
        await Promise.race([closed, wait(CLOSE_GRACE_MS)]);
      }
    } finally {
      clearTimeout(deadlineTimer);
    }
    this.#logger.info({ ms: Math.round(performance.now() - startedAt) }, 'drained');
  }
}

/**
 * A listener a reload removed: it stops accepting and its connections end as in a drain, with
 * the same deadline (a tunnel on it must not outlive the listener by `tunnel_idle`).
 */
export async function closeListener(listener: Listener, timeout: number): Promise<void> {
  const closed = listener.close('listener_removed').then(() => 'closed' as const);
  if ((await Promise.race([closed, wait(timeout)])) === 'closed') return;
  listener.cutConnections('listener_deadline');
  await Promise.race([closed, wait(CLOSE_GRACE_MS)]);
}

/** A wait that never holds the process up by itself (the listeners do that while they are open). */
function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
