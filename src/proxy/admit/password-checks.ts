import { Failure } from '../../core/failure/failure.ts';
import { PerKeyCount } from '../../core/limits/per-key-count.ts';
import { clientBlock } from '../../core/net/client-block.ts';
import { PASSWORD_HASH_THREADS } from './password-hash-threads.ts';

/**
 * Password hash checks under way at once in this worker, every route's Basic auth and every
 * config snapshot together. Each runs on a thread of the worker's hash pool
 * (password-hash-threads.ts), never on the event loop, so a flood of bad logins holds no other
 * request; but the threads are few (a bounded share of the cores), so as many checks run as
 * there are threads while the next wait their turn, at most PASSWORD_CHECKS_WAITING of them, a
 * bound on how long the last one waits (that many hashes over the threads); past it the
 * gateway answers 503 with Retry-After. And no client holds more than
 * PASSWORD_CHECKS_PER_CLIENT of them (a client with many connections, or an HTTP/2 one with
 * many streams, would take every other client's turn).
 * A client is an IPv4 address or an IPv6 /64 (client-block.ts): an IPv6 host picks its own
 * addresses in its /64, and keyed by the address it had a fresh share with each one.
 */
export const PASSWORD_CHECKS_WAITING = 32;
export const PASSWORD_CHECKS_PER_CLIENT = 4;
/** Seconds a login refused is told to wait: the queue empties within a few. */
const RETRY_AFTER = 1;

/** A bound on password checks at once: `run` starts one, queues it, or refuses it (the Failure to answer with). */
export class PasswordChecks {
  readonly #running: number;
  readonly #waitingMax: number;
  readonly #perClient: number;
  #runningNow = 0;
  /** The checks waiting for a slot, first come first served: each resolves when it is handed one. */
  readonly #waiting: (() => void)[] = [];
  /** Checks held per client (running or waiting): never more keys than the checks held. */
  readonly #clients: PerKeyCount;

  constructor(running: number, waiting: number, perClient: number) {
    this.#running = running;
    this.#waitingMax = waiting;
    this.#perClient = perClient;
    this.#clients = new PerKeyCount(running + waiting);
  }

  /**
   * The check's result; or, when as many checks as the bound holds are running and waiting, the
   * gateway's 503; or, when `client` holds its share already, a 429 (DESIGN: per-client concurrency).
   * `client` is an address; its share is its /64's when it is IPv6.
   */
  run<T>(check: () => Promise<T>, client: string): Promise<T> | Failure {
    const free = this.#runningNow < this.#running;
    if (!free && this.#waiting.length >= this.#waitingMax)
      return new Failure(
        'proxy_internal_response',
        `password checks saturated: too many under way (${this.#running} running, ${this.#waitingMax} waiting): try again shortly`,
        { retryAfter: RETRY_AFTER },
      );
    const release = this.#clients.acquire(clientBlock(client), this.#perClient);
    if (release === undefined)
      return new Failure(
        'http_request_denied',
        `this client has ${this.#perClient} password checks under way already`,
        { retryAfter: RETRY_AFTER },
      );
    if (free) {
      this.#runningNow++;
      return this.#start(check).finally(release);
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve))
      .then(() => this.#start(check))
      .finally(release);
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
export const passwordChecks = new PasswordChecks(
  PASSWORD_HASH_THREADS,
  PASSWORD_CHECKS_WAITING,
  PASSWORD_CHECKS_PER_CLIENT,
);
