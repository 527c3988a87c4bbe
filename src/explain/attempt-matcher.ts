import type { FailureType } from '../failure/taxonomy.ts';
import type { FailedAttempt, RequestLine } from './log-record.ts';

/** Failures that happen after the status went out: their request may well say 200. */
const AFTER_HEAD: ReadonlySet<FailureType> = new Set([
  'http_response_incomplete',
  'connection_read_timeout',
  'http_response_transfer_coding',
  'http_response_content_length',
]);

/** How far apart an error-log line and its access-log line may be (both have 1 s resolution). */
const WINDOW_MS = 2000;

interface Pending {
  readonly attempt: FailedAttempt;
  taken: boolean;
}

/**
 * Matches error-log attempts with their access-log request (same client and request line,
 * close in time), reading both in time order. An attempt no request claims within the window
 * is handed back as an orphan: a failure that was retried, or whose access log was not given.
 */
export class AttemptMatcher {
  readonly #byKey = new Map<string, Pending[]>();
  readonly #queue: Pending[] = [];
  #head = 0;
  readonly #orphan: (attempt: FailedAttempt) => void;

  constructor(onOrphan: (attempt: FailedAttempt) => void) {
    this.#orphan = onOrphan;
  }

  get size(): number {
    return this.#queue.length - this.#head;
  }

  add(attempt: FailedAttempt): void {
    if (attempt.joinKey === undefined) {
      this.#orphan(attempt);
      return;
    }
    const pending = { attempt, taken: false };
    this.#queue.push(pending);
    const list = this.#byKey.get(attempt.joinKey);
    if (list) list.push(pending);
    else this.#byKey.set(attempt.joinKey, [pending]);
  }

  /**
   * The request with its cause filled in from its attempts (the last one decided the answer;
   * earlier ones are orphans, retried). A request that was answered fine claims only failures
   * that come after the head.
   */
  claim(request: RequestLine): RequestLine {
    const key = request.joinKey;
    const list = key === undefined ? undefined : this.#byKey.get(key);
    if (key === undefined || list === undefined) return request;
    const failed = request.status >= 500 || request.status === 9;
    const last = list[list.length - 1];
    if (!failed && !AFTER_HEAD.has(last.attempt.failure)) return request;
    this.#byKey.delete(key);
    for (const pending of list) pending.taken = true;
    for (const pending of list.slice(0, -1)) this.#orphan(pending.attempt);
    const attempt = last.attempt;
    return {
      ...request,
      failure: request.failure ?? attempt.failure,
      upstream: request.upstream ?? attempt.upstream,
      target: request.target ?? attempt.target,
    };
  }

  /** Gives up on attempts older than the window before `time` (and all of them with no `time`). */
  expire(time = Number.POSITIVE_INFINITY): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head].attempt.time < time - WINDOW_MS) {
      const pending = this.#queue[this.#head++];
      if (pending.taken) continue;
      const key = pending.attempt.joinKey as string;
      const list = this.#byKey.get(key);
      if (list) {
        const rest = list.filter((p) => p !== pending);
        if (rest.length > 0) this.#byKey.set(key, rest);
        else this.#byKey.delete(key);
      }
      this.#orphan(pending.attempt);
    }
    if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
