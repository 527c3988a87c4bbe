/**
 * createFetch's options, their defaults (here and nowhere else) and their checks: a bad value
 * is a TypeError or RangeError naming the option, at createFetch, never a surprise later.
 */
import { refuseUnknownOptions } from '../../core/did-you-mean.ts';
import type { AttemptReport } from './attempt-report.ts';
import type { RetryBudgetConfig } from './window-retry-budget.ts';

export interface ClientOptions {
  /** The fetch each attempt goes through (default: the global fetch, looked up at each call). */
  readonly fetch?: typeof fetch;
  /** Attempts in all for one call, the first included (default 3; 1 turns retries off). */
  readonly attempts?: number;
  /**
   * Milliseconds from the call to its response head, every attempt and wait included
   * (default 30 000). Past it the call fails with UPSTREAM_DEADLINE.
   */
  readonly deadline?: number;
  /**
   * Milliseconds one attempt waits for its response head (the redirects it follows included),
   * within the deadline (default: none, the deadline alone bounds it). Past it the attempt is a
   * 504 `http_response_timeout`, retried under the failure table's rules (a POST without an
   * Idempotency-Key is not: it may have been processed). No default: a slow answer it cut would
   * be sent again, and only the app knows how slow its API may legitimately be.
   */
  readonly attemptTimeout?: number;
  /**
   * Milliseconds a read of the response body waits for its next bytes (default: none; the global
   * fetch's dispatcher gives up after 300 000, an UPSTREAM_BODY_TIMEOUT too). Past it the read
   * rejects with an UpstreamError UPSTREAM_BODY_TIMEOUT (`connection_read_timeout`) and the
   * connection is destroyed. Only a read waiting on the server counts: a caller that reads late
   * is never cut. No default: a long poll or a stream of events may be silent for minutes.
   */
  readonly bodyTimeout?: number;
  /** Full-jitter exponential backoff between attempts, in milliseconds (default base 100, cap 2 000); `cap` also bounds the spread after a Retry-After (at most 20 % of its wait). */
  readonly backoff?: { readonly base?: number; readonly cap?: number };
  /** Per origin: retries at most `ratio` of calls over `window` ms, plus `minPerSecond` (default 0.2, 10 000, 3); false: no budget. */
  readonly budget?: Partial<RetryBudgetConfig> | false;
  /**
   * Per origin: `failures` 502/503/504 or connection failures in a row open the circuit for
   * `openTime` ms, then one probe at a time (default 5, 5 000); false: no circuit.
   */
  readonly circuitBreaker?: { readonly failures?: number; readonly openTime?: number } | false;
  /**
   * The longest an origin's Retry-After pauses this client's later calls to it, in milliseconds
   * (default 60 000): a `Retry-After: 86400` (or a date next year) must not stop an app's calls for
   * a day on one answer. It is also the longest one call waits on a Retry-After, whatever the
   * status (a 502's, another origin's after a redirect): the call that got a longer one ends with
   * that answer.
   */
  readonly maxPause?: number;
  /** Add an `Idempotency-Key` (a random UUID, the same for every attempt of a call) to non-idempotent requests without one (default false). */
  readonly idempotencyKey?: boolean;
  /** Called with every failed attempt, retried or not. An exception it throws (or a rejection, if async) is ignored. */
  readonly onAttemptFailed?: (report: AttemptReport) => void;
}

export const CLIENT_DEFAULTS = {
  attempts: 3,
  deadline: 30_000,
  backoff: { base: 100, cap: 2_000 },
  budget: { ratio: 0.2, window: 10_000, minPerSecond: 3 },
  circuitBreaker: { failures: 5, openTime: 5_000 },
  maxPause: 60_000,
  idempotencyKey: false,
} as const;

export interface ClientConfig {
  readonly fetch: typeof fetch | undefined;
  readonly attempts: number;
  readonly deadline: number;
  readonly attemptTimeout: number | undefined;
  readonly bodyTimeout: number | undefined;
  readonly backoff: { readonly base: number; readonly cap: number };
  readonly budget: RetryBudgetConfig | undefined;
  readonly circuitBreaker: { readonly failures: number; readonly openTime: number } | undefined;
  readonly maxPause: number;
  readonly idempotencyKey: boolean;
  readonly onAttemptFailed: ((report: AttemptReport) => void) | undefined;
}

function number(
  name: string,
  value: unknown,
  fallback: number,
  { min, max = Number.MAX_SAFE_INTEGER, integer = false }: { min: number; max?: number; integer?: boolean },
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value))
    throw new TypeError(`createFetch: options.${name} must be a number, got ${JSON.stringify(value)}`);
  if (value < min || value > max || (integer && !Number.isInteger(value)))
    throw new RangeError(
      `createFetch: options.${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${value}`,
    );
  return value;
}

/** A timeout that is off unless given: 1 ms to setTimeout's largest. */
function optional(name: string, value: unknown): number | undefined {
  return value === undefined ? undefined : number(name, value, 0, { min: 1, max: 2_147_483_647 });
}

function section(name: keyof typeof SECTIONS, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError(
      `createFetch: options.${name} must be an object${name === 'backoff' ? '' : ' or false'}`,
    );
  knownOnly(`options.${name}`, value as Record<string, unknown>, SECTIONS[name]);
  return value as Record<string, unknown>;
}

/** The options createFetch reads, and those of each of its sections. */
const OPTIONS = [
  'fetch',
  'attempts',
  'deadline',
  'attemptTimeout',
  'bodyTimeout',
  'backoff',
  'budget',
  'circuitBreaker',
  'maxPause',
  'idempotencyKey',
  'onAttemptFailed',
] as const satisfies readonly (keyof ClientOptions)[];
const SECTIONS = {
  backoff: ['base', 'cap'],
  budget: ['ratio', 'window', 'minPerSecond'],
  circuitBreaker: ['failures', 'openTime'],
} as const;

/**
 * Refuses an option createFetch does not read: `{ retries: 0 }` meant to turn retries off ran
 * three attempts without a word.
 */
const knownOnly = (where: string, given: object, known: readonly string[]): void =>
  refuseUnknownOptions('createFetch', where, given, known, (name) =>
    name === 'retries'
      ? 'attempts counts the tries in all, the first among them: attempts: 1 sends no retry'
      : undefined,
  );

/** The options with every default filled in, checked. */
export function resolveOptions(options: ClientOptions = {}): ClientConfig {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('createFetch: options must be an object');
  knownOnly('options', options as Record<string, unknown>, OPTIONS);
  const D = CLIENT_DEFAULTS;
  if (options.fetch !== undefined && typeof options.fetch !== 'function')
    throw new TypeError('createFetch: options.fetch must be a function');
  if (options.onAttemptFailed !== undefined && typeof options.onAttemptFailed !== 'function')
    throw new TypeError('createFetch: options.onAttemptFailed must be a function');
  if (options.idempotencyKey !== undefined && typeof options.idempotencyKey !== 'boolean')
    throw new TypeError('createFetch: options.idempotencyKey must be true or false');
  const backoff = section('backoff', options.backoff);
  const base = number('backoff.base', backoff.base, D.backoff.base, { min: 0, max: 3_600_000 });
  const cap = number('backoff.cap', backoff.cap, Math.max(base, D.backoff.cap), {
    min: base,
    max: 3_600_000,
  });
  const budget = options.budget === false ? undefined : section('budget', options.budget);
  const circuit =
    options.circuitBreaker === false ? undefined : section('circuitBreaker', options.circuitBreaker);
  return {
    fetch: options.fetch,
    attempts: number('attempts', options.attempts, D.attempts, { min: 1, max: 100, integer: true }),
    deadline: number('deadline', options.deadline, D.deadline, { min: 1, max: 2_147_483_647 }),
    attemptTimeout: optional('attemptTimeout', options.attemptTimeout),
    bodyTimeout: optional('bodyTimeout', options.bodyTimeout),
    backoff: { base, cap },
    budget: budget && {
      ratio: number('budget.ratio', budget.ratio, D.budget.ratio, { min: 0, max: 100 }),
      window: number('budget.window', budget.window, D.budget.window, { min: 10, max: 3_600_000 }),
      minPerSecond: number('budget.minPerSecond', budget.minPerSecond, D.budget.minPerSecond, {
        min: 0,
        max: 1_000_000,
      }),
    },
    circuitBreaker: circuit && {
      failures: number('circuitBreaker.failures', circuit.failures, D.circuitBreaker.failures, {
        min: 0,
        max: 1_000_000,
        integer: true,
      }),
      openTime: number('circuitBreaker.openTime', circuit.openTime, D.circuitBreaker.openTime, {
        min: 1,
        max: 3_600_000,
      }),
    },
    maxPause: number('maxPause', options.maxPause, D.maxPause, { min: 0, max: 2_147_483_647 }),
    idempotencyKey: options.idempotencyKey ?? D.idempotencyKey,
    onAttemptFailed: options.onAttemptFailed,
  };
}
