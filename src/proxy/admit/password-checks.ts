import { Failure } from '../../core/failure/failure.ts';

/**
 * Password hash checks under way at once in this worker, every route's Basic auth and every
 * config snapshot together. They all run on the one event loop (bcryptjs in slices of up to
 * 100 ms, SHA-crypt a thousand rounds a turn), so more at once finish no sooner, and each one
 * more stretches every turn of the loop, every other client's request with it: a flood of bad
 * logins would take the worker. One runs while the next wait their turn, at most
 * PASSWORD_CHECKS_WAITING of them, a bound on how long the last one waits (that many hashes).
 */
const RUNNING = 1;
export const PASSWORD_CHECKS_WAITING = 32;
/** Seconds a login refused for a full queue is told to wait: the queue empties within a few. */
const BUSY_RETRY_AFTER = 1;

/** A bound on password checks at once: `run` starts one, queues it, or refuses it (undefined). */
export class PasswordChecks {
  readonly #running: number;
  readonly #waitingMax: number;
  #runningNow = 0;
  /** The checks waiting for a slot, first come first served: each resolves when it is handed one. */
  readonly #waiting: (() => void)[] = [];

  constructor(running: number, waiting: number) {
    this.#running = running;
    this.#waitingMax = waiting;
  }

  /** The check's result, or undefined when as many checks as the bound holds are running and waiting. */
  run<T>(check: () => Promise<T>): Promise<T> | undefined {
    if (this.#runningNow < this.#running) {
      this.#runningNow++;
      return this.#start(check);
    }
    if (this.#waiting.length >= this.#waitingMax) return undefined;
    return new Promise<void>((resolve) => this.#waiting.push(resolve)).then(() => this.#start(check));
  }

  #start<T>(check: () => Promise<T>): Promise<T> {
    return check().finally(() => this.#release());
  }

  /** A finished check hands its slot to the first one waiting (none can take it in between). */
  #release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#runningNow--;
    else next();
  }
}

/** The worker's one bound (a module is loaded once per worker process). */
export const passwordChecks = new PasswordChecks(RUNNING, PASSWORD_CHECKS_WAITING);

/** The gateway's own refusal of a login it has no room to check now: 503, as load shedding. */
export function passwordChecksBusy(): Failure {
  return new Failure(
    'proxy_internal_response',
    `too many password checks under way (${RUNNING} running, ${PASSWORD_CHECKS_WAITING} waiting): try again shortly`,
    { retryAfter: BUSY_RETRY_AFTER },
  );
}
