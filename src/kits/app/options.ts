/**
 * What `createApp` takes, its defaults (here and nowhere else) and the checks that turn a bad
 * option into a clear error at start rather than a surprise at the first deploy.
 */
import { refuseUnknownOptions } from '../../core/did-you-mean.ts';
import { keepAliveTimeoutsFor } from './keep-alive.ts';

/** One line of what the app kit did, for the app's own log. `msg` names it; the rest are figures. */
export interface AppEvent {
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** The app's own cleanup, run once in-flight requests are over (close a database pool, flush a queue). */
export type ShutdownHook = () => unknown;

export interface AppOptions {
  /**
   * The app's dependency check (open the database pool, warm a cache, reach a service): the
   * app is ready once it resolves to anything but `false`. A rejection or `false` means "not
   * yet": it is run again `readyRetry` ms later. Without it the app is ready as soon as
   * `start()` is called. Its own timeouts are its own: a check that never settles keeps the
   * app starting.
   */
  readonly ready?: () => unknown;
  /** Milliseconds between two runs of a failed `ready` check (default 1000). */
  readonly readyRetry?: number;
  /** The probe paths (defaults `/ready` and `/live`); answered before the app sees the request. */
  readonly paths?: { readonly ready?: string; readonly live?: string };
  /** Seconds in the `Retry-After` of a 503 from the readiness path (default 5). */
  readonly retryAfter?: number;
  /**
   * Milliseconds the gateway in front keeps an idle connection to this app (default 60 000:
   * nginx's upstream `keepalive_timeout` and AWS ALB's idle timeout; Candor's `pool.idle_timeout`
   * is 30 s). The app keeps idle connections 5 s longer, so that it never closes one first.
   */
  readonly gatewayIdleTimeout?: number;
  readonly shutdown?: {
    /**
     * Milliseconds between "not ready" and "stop accepting" (default 15 000), while everything
     * is still served: at least the time the gateway's health check needs to take the app out,
     * `fall` × (`interval` + the probe's time). Candor's defaults: 3 × 5 s, plus the probes.
     */
    readonly delay?: number;
    /** Milliseconds from the signal to the deadline, when connections still open are cut (default 25 000). */
    readonly timeout?: number;
    /** Milliseconds the cleanup hooks get after the connections are closed (default 5000). */
    readonly cleanupTimeout?: number;
  };
  /** The app's cleanup, run in order after the last connection closed (or was cut at the deadline). */
  readonly onShutdown?: ShutdownHook | readonly ShutdownHook[];
  /** Signals that start the shutdown (default SIGTERM and SIGINT); `[]` leaves signals to the app. */
  readonly signals?: readonly NodeJS.Signals[];
  /** Exit the process once a shutdown started by a signal is over (default true). */
  readonly exit?: boolean;
  /** Where the kit's events go (default: one JSON line each on stdout); `false` for nowhere. What it throws is ignored. */
  readonly log?: ((event: AppEvent) => void) | false;
}

/** The options with every default filled in and every value checked. */
export interface AppSettings {
  readonly ready: (() => unknown) | undefined;
  readonly readyRetry: number;
  readonly readyPath: string;
  readonly livePath: string;
  readonly retryAfter: number;
  readonly keepAliveTimeout: number;
  readonly headersTimeout: number;
  readonly delay: number;
  readonly timeout: number;
  readonly cleanupTimeout: number;
  readonly hooks: readonly ShutdownHook[];
  readonly signals: readonly NodeJS.Signals[];
  readonly exit: boolean;
  readonly log: (event: AppEvent) => void;
}

export const APP_DEFAULTS = {
  readyRetry: 1_000,
  readyPath: '/ready',
  livePath: '/live',
  retryAfter: 5,
  gatewayIdleTimeout: 60_000,
  // Candor's health-check defaults (interval 5 s, fall 3) take a target out within 15 s plus the probes' time.
  delay: 15_000,
  // 25 s for the connections and 5 s for the cleanup: Kubernetes' default grace period of 30 s.
  timeout: 25_000,
  cleanupTimeout: 5_000,
  signals: ['SIGTERM', 'SIGINT'] as readonly NodeJS.Signals[],
} as const;

/** An hour: a longer idle keep-alive (or a longer wait) is a mistake in units, not a choice. */
const MAX_MS = 3_600_000;

function milliseconds(name: string, value: unknown, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > MAX_MS)
    throw new RangeError(
      `candor/app: ${name} must be a number of milliseconds from ${min} to ${MAX_MS}, not ${String(value)}`,
    );
  return value;
}

function path(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\/[^\s?#]*$/.test(value))
    throw new TypeError(`candor/app: ${name} must be a path starting with "/", not ${JSON.stringify(value)}`);
  return value;
}

function writeJsonLine(event: AppEvent): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
}

/**
 * The app's log, what it throws (or rejects with) ignored: a logger that fails (a closed
 * stream, a full disk) must not end a readiness check or a drain halfway, the connections
 * never closed and the cleanup hooks never run.
 */
function guarded(log: (event: AppEvent) => void): (event: AppEvent) => void {
  return (event) => {
    try {
      const returned: unknown = log(event);
      if (returned instanceof Promise) returned.catch(() => {});
    } catch {
      // (as above)
    }
  };
}

/** The options createApp reads, and those of its two sections. */
export const APP_OPTIONS = [
  'ready',
  'readyRetry',
  'paths',
  'retryAfter',
  'gatewayIdleTimeout',
  'shutdown',
  'onShutdown',
  'signals',
  'exit',
  'log',
] as const satisfies readonly (keyof AppOptions)[];
const SECTIONS = {
  paths: ['ready', 'live'],
  shutdown: ['delay', 'timeout', 'cleanupTimeout'],
} as const;

/**
 * Refuses an option createApp does not read, as createFetch does: a misspelt `readyCheck` (the
 * app ready at once, before its database), `onShutDown` (the pool never closed) or
 * `shutdown.dealy` (the default delay) was ignored without a word.
 */
export const refuseUnknownAppOptions = (where: string, given: object, known: readonly string[]): void =>
  refuseUnknownOptions('candor/app', where, given, known);

function refuseUnknownInSections(options: AppOptions): void {
  for (const [name, known] of Object.entries(SECTIONS)) {
    const section: unknown = options[name as keyof typeof SECTIONS];
    if (section === undefined) continue;
    if (typeof section !== 'object' || section === null || Array.isArray(section))
      throw new TypeError(`candor/app: ${name} must be an object`);
    refuseUnknownAppOptions(name, section, known);
  }
}

export function resolveAppOptions(options: AppOptions = {}): AppSettings {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('candor/app: options must be an object');
  refuseUnknownAppOptions('options', options, APP_OPTIONS);
  refuseUnknownInSections(options);
  if (options.ready !== undefined && typeof options.ready !== 'function')
    throw new TypeError('candor/app: ready must be a function (the dependency check)');
  const readyPath = path('paths.ready', options.paths?.ready, APP_DEFAULTS.readyPath);
  const livePath = path('paths.live', options.paths?.live, APP_DEFAULTS.livePath);
  if (readyPath === livePath)
    throw new TypeError(`candor/app: paths.ready and paths.live are both ${readyPath}`);
  const retryAfter = options.retryAfter ?? APP_DEFAULTS.retryAfter;
  if (!Number.isInteger(retryAfter) || retryAfter < 0 || retryAfter > 86_400)
    throw new RangeError(`candor/app: retryAfter must be whole seconds from 0 to 86400, not ${retryAfter}`);
  const gatewayIdleTimeout = milliseconds(
    'gatewayIdleTimeout',
    options.gatewayIdleTimeout,
    APP_DEFAULTS.gatewayIdleTimeout,
    1_000,
  );
  const delay = milliseconds('shutdown.delay', options.shutdown?.delay, APP_DEFAULTS.delay);
  const timeout = milliseconds('shutdown.timeout', options.shutdown?.timeout, APP_DEFAULTS.timeout);
  if (delay >= timeout)
    throw new RangeError(
      `candor/app: shutdown.delay (${delay} ms) must be shorter than shutdown.timeout (${timeout} ms), or the deadline cuts requests the delay keeps serving`,
    );
  const hooks = options.onShutdown === undefined ? [] : [options.onShutdown].flat();
  if (hooks.some((hook) => typeof hook !== 'function'))
    throw new TypeError('candor/app: onShutdown must be a function or an array of functions');
  if (options.log !== undefined && options.log !== false && typeof options.log !== 'function')
    throw new TypeError('candor/app: log must be a function or false');
  return Object.freeze({
    ready: options.ready,
    readyRetry: milliseconds('readyRetry', options.readyRetry, APP_DEFAULTS.readyRetry, 10),
    readyPath,
    livePath,
    retryAfter,
    ...keepAliveTimeoutsFor(gatewayIdleTimeout),
    delay,
    timeout,
    cleanupTimeout: milliseconds(
      'shutdown.cleanupTimeout',
      options.shutdown?.cleanupTimeout,
      APP_DEFAULTS.cleanupTimeout,
    ),
    hooks: Object.freeze(hooks),
    signals: Object.freeze([...(options.signals ?? APP_DEFAULTS.signals)]),
    exit: options.exit ?? true,
    log: options.log === false ? () => {} : guarded(options.log ?? writeJsonLine),
  });
}
