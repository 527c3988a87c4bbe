import type { FailureType } from '../../core/failure/taxonomy.ts';
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
  /** Claimed by a request, or handed back as an orphan: either way no longer to be claimed. */
  taken: boolean;
}

/** Adds `pending` to the list under `key`, making the list if it is the first. */
function file(map: Map<string, Pending[]>, key: string, pending: Pending): void {
  const list = map.get(key);
  if (list) list.push(pending);
  else map.set(key, [pending]);
}

/** Drops the taken entries at the front of the list under `key`, and the list once empty. */
function trim(map: Map<string, Pending[]>, key: string | undefined): void {
  if (key === undefined) return;
  const list = map.get(key);
  if (list === undefined) return;
  let i = 0;
  while (i < list.length && list[i].taken) i++;
  if (i === list.length) map.delete(key);
  else if (i > 0) list.splice(0, i);
}

/**
 * Matches error-log attempts with their access-log request, reading both in time order. Each
 * attempt goes to at most one request, and each request takes its own: by request id where
 * both lines have one, else the oldest attempts with the same client and request line (first
 * in, first out, so a burst of identical failing requests within one second is matched one
 * to one). A request takes as many attempts as its line says it made (`attempts`), else one.
 * An attempt no request claims within the window is handed back as an orphan: a failure that
 * was retried, or whose access log was not given.
 */
export class AttemptMatcher {
  readonly #byKey = new Map<string, Pending[]>();
  readonly #byId = new Map<string, Pending[]>();
  readonly #queue: Pending[] = [];
  #head = 0;
  readonly #orphan: (attempt: FailedAttempt) => void;

  constructor(onOrphan: (attempt: FailedAttempt) => void) {
    this.#orphan = onOrphan;
  }

  /** Attempts a request took (the rest were handed back as orphans). */
  joined = 0;

  /** Attempts still inside the window (some of them may have been claimed already). */
  get size(): number {
    return this.#queue.length - this.#head;
  }

  add(attempt: FailedAttempt): void {
    if (attempt.joinKey === undefined && attempt.requestId === undefined) {
      this.#orphan(attempt);
      return;
    }
    const pending = { attempt, taken: false };
    this.#queue.push(pending);
    if (attempt.requestId !== undefined) file(this.#byId, attempt.requestId, pending);
    if (attempt.joinKey !== undefined) file(this.#byKey, attempt.joinKey, pending);
  }

  /**
   * The request with its cause filled in from the attempts it takes: the last one decided the
   * answer; earlier ones were retried (handed back as orphans, counted as failed attempts). A
   * request that was answered fine takes an attempt only when it failed after the head (the
   * body was cut), or the earlier attempts its line says were retried.
   */
  claim(request: RequestLine): RequestLine {
    const taken = this.#take(request);
    if (taken.length === 0) return request;
    this.joined += taken.length;
    for (const pending of taken) pending.taken = true;
    trim(this.#byKey, request.joinKey);
    trim(this.#byId, request.requestId);
    const last = taken[taken.length - 1].attempt;
    const failed = request.status >= 500 || request.status === 9;
    const decided = failed || AFTER_HEAD.has(last.failure);
    // The retried ones are the request's: counted under its upstream group where the line names
    // one apart from the server (ingress-nginx's service), under their own server otherwise.
    const group = request.upstream !== request.target ? request.upstream : undefined;
    for (const pending of decided ? taken.slice(0, -1) : taken)
      this.#orphan(group === undefined ? pending.attempt : { ...pending.attempt, upstream: group });
    if (!decided) return request;
    return {
      ...request,
      failure: request.failure ?? last.failure,
      ...(request.failure === undefined && last.limit ? { limit: true as const } : {}),
      upstream: request.upstream ?? last.upstream,
      target: request.target ?? last.target,
      producedBy: failed ? 'proxy' : request.producedBy,
    };
  }

  /** The attempts `request` takes, oldest first (not yet marked taken). */
  #take(request: RequestLine): Pending[] {
    if (request.requestId !== undefined) {
      const own = this.#byId.get(request.requestId);
      // An id is the request's own: every attempt under it is this request's.
      if (own !== undefined) return own.filter((p) => !p.taken);
    }
    const list = request.joinKey === undefined ? undefined : this.#byKey.get(request.joinKey);
    if (list === undefined) return [];
    const open: Pending[] = [];
    const made = Math.max(1, request.attempts ?? 1);
    for (const pending of list) {
      if (open.length === made) break;
      // An attempt with an id of its own belongs to the request with that id, not to this one.
      if (!pending.taken && (pending.attempt.requestId === undefined || request.requestId === undefined))
        open.push(pending);
    }
    if (open.length === 0) return open;
    if (request.status >= 500 || request.status === 9) return open;
    // Answered: the body may have been cut after the head (one attempt, failed after it) …
    if (made === 1) return AFTER_HEAD.has(open[0].attempt.failure) ? open : [];
    // … or earlier attempts failed and were retried: at most made - 1 of them.
    return open.slice(0, made - 1).filter((p) => !AFTER_HEAD.has(p.attempt.failure));
  }

  /** Gives up on attempts older than the window before `time` (and all of them with no `time`). */
  expire(time = Number.POSITIVE_INFINITY): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head].attempt.time < time - WINDOW_MS) {
      const pending = this.#queue[this.#head++];
      if (pending.taken) continue;
      pending.taken = true;
      trim(this.#byKey, pending.attempt.joinKey);
      trim(this.#byId, pending.attempt.requestId);
      this.#orphan(pending.attempt);
    }
    if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
