/**
 * Checks on single string values that the schema refers to by format name.
 *
 * They live in TypeBox's FormatRegistry so that one pass over the document reports every
 * problem, shape and content alike. The registry is process-wide; the "candor." prefix
 * keeps these names from colliding with anyone else's. Each check returns the full message
 * (what was expected, what was found), which the validator reports as it is.
 */

import { FormatRegistry } from '@sinclair/typebox';
import {
  addressOrCidrProblem,
  type Parsed,
  parseHostHeader,
  parseListenAddress,
  parseMatchPath,
  parseOtlpEndpoint,
  parseProbePath,
  parseRouteHost,
  parseRoutePath,
  parseServerName,
  parseTargetUrl,
} from './addresses.ts';
import { isCacheControl } from './cache-control-value.ts';
import { HEADER_SIZE_RANGE } from './defaults.ts';
import { describeValue } from './describe-value.ts';
import { FLEET_FORMAT_PROBLEMS } from './fleet-values.ts';
import { messageProblem } from './message-text.ts';
import { parseRateKey, parseStatusRanges } from './policy-values.ts';
import { methodProblem, parseHashKey, parseHeaderTemplate, parseLocation } from './routing-values.ts';
import {
  durationAdvice,
  formatSize,
  LONGEST_TIMER_MS,
  parseDuration,
  parseSize,
  sizeAdvice,
} from './units.ts';

/** RFC 8941 token-ish: safe in Via, as a Proxy-Status member and as a metric label. */
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9._:-]*$/;
export const NAME_CHARS = "letters, digits, '.', '_', '-' or ':', starting with a letter";
export const NAME_EXPECTED = `a name of ${NAME_CHARS}`;

/**
 * A route's name goes into no header, but into log lines, metric labels, the status page and the
 * admin API, and is typed back (`PUT /routes/maintenance`, a purge): anything a terminal does not
 * show as itself is refused — control characters (C0, DEL, C1), format characters (bidirectional
 * overrides, a zero-width space, a soft hyphen), and
 * whitespace but one space between words ("public api" reads as written; a tab, a newline, a
 * space at an end or two in a row do not), and half a surrogate pair (`\uD800`, \p{Cs}: no character;
 * the log wrote it as an escape, a metric label as U+FFFD). Other Unicode is kept.
 */
// \p{Cf}, the format characters (a zero-width space, a soft hyphen, the bidirectional controls),
// show as nothing: "a\u200bb" read as "ab" in the log and GET /status, and was no route by that name.
const ROUTE_NAME_PATTERN = /^[^\p{Cc}\p{Cf}\p{Cs}\p{Z}\s]+(?: [^\p{Cc}\p{Cf}\p{Cs}\p{Z}\s]+)*$/u;
export const ROUTE_NAME_EXPECTED =
  'a route name of visible characters (no control characters; one space at most between words)';

/** `match.path`: routes match a path by prefix alone, and one written as a mapping is most often a pattern. */
export const PATH_PREFIX_EXPECTED =
  'a path prefix starting with "/" like /v1 (a path is matched by prefix only: match.path takes no pattern, glob or exact form)';

export const DURATION_EXPECTED = 'a duration like 250ms, 5s or 1m';
export const SIZE_EXPECTED = 'a size like 512, 8KiB or 10MiB';
export const HEADER_SIZE_EXPECTED = `a size from ${formatSize(HEADER_SIZE_RANGE.min)} to ${formatSize(HEADER_SIZE_RANGE.max)} like 32KiB`;

function problemOf<T>(parsed: Parsed<T>): string | undefined {
  return 'problem' in parsed ? parsed.problem : undefined;
}

function durationProblem(text: string): string | undefined {
  const ms = parseDuration(text);
  if (ms === undefined)
    return `expected ${DURATION_EXPECTED}, got ${describeValue(text)}${durationAdvice(text)}`;
  // Zero would mean "give up at once" to some readers and "never give up" to others.
  if (ms === 0) return `expected a duration above zero like 250ms, 5s or 1m, got ${describeValue(text)}`;
  if (ms > LONGEST_TIMER_MS)
    return `expected a duration of at most 596h (the longest a timer waits), got ${describeValue(text)}`;
  return undefined;
}

/** A duration no timer waits for (a certificate's renewal margin): any length above zero. */
function spanProblem(text: string): string | undefined {
  const ms = parseDuration(text);
  if (ms === undefined)
    return `expected ${DURATION_EXPECTED}, got ${describeValue(text)}${durationAdvice(text)}`;
  if (ms === 0) return `expected a duration above zero like 250ms, 5s or 1m, got ${describeValue(text)}`;
  return undefined;
}

/**
 * A freshness the gateway gives an answer (`cache.lifetimes`): a second or more, and of any length
 * (no timer waits for it). Zero reads two ways: nginx's `proxy_cache_valid 200 0` keeps nothing,
 * but an answer kept stale from the start would still be revalidated and stand in for a failed
 * upstream. A status left out has no lifetime of the gateway's, which says the one thing clearly.
 * Under a second is zero: HTTP counts freshness in whole seconds (RFC 9111 §1.2.2), and `500ms`
 * was read as `max-age=0`.
 */
function lifetimeProblem(text: string): string | undefined {
  const ms = parseDuration(text);
  if (ms === undefined)
    return `expected a lifetime like 30s, 10m or 1h, got ${describeValue(text)}${durationAdvice(text)}`;
  if (ms === 0)
    return `expected a lifetime above zero like 30s or 10m (0s would keep the answer stale from the start: leave the status out to give it none), got ${describeValue(text)}`;
  if (ms < 1000)
    return `expected a lifetime of a second or more like 30s or 10m (HTTP counts freshness in whole seconds: ${describeValue(text)} would be 0s, keeping the answer stale from the start), got ${describeValue(text)}`;
  return undefined;
}

/**
 * A staleness the gateway grants (`cache.stale_while_revalidate`): 0s (none), or a second or more:
 * HTTP counts it in whole seconds (RFC 5861 §3), and one under a second was none, without a word.
 */
function graceProblem(text: string): string | undefined {
  const ms = parseDuration(text);
  if (ms === undefined)
    return `expected a duration like 0s, 30s or 5m, got ${describeValue(text)}${durationAdvice(text)}`;
  if (ms > 0 && ms < 1000)
    return `expected 0s or a duration of a second or more like 30s or 5m (HTTP counts staleness in whole seconds: ${describeValue(text)} would be none), got ${describeValue(text)}`;
  return undefined;
}

/**
 * A wait that may be skipped, or a margin that may be none: zero reads only one way here ("do not
 * wait", "no tolerance"). Past 596h as any duration but a span's and a lifetime's.
 */
function delayProblem(text: string): string | undefined {
  const ms = parseDuration(text);
  if (ms === undefined)
    return `expected a duration like 0s, 250ms or 5s, got ${describeValue(text)}${durationAdvice(text)}`;
  if (ms > LONGEST_TIMER_MS)
    return `expected a duration of at most 596h (the longest a timer waits), got ${describeValue(text)}`;
  return undefined;
}

function sizeProblem(text: string): string | undefined {
  return parseSize(text) === undefined
    ? `expected ${SIZE_EXPECTED}, got ${describeValue(text)}${sizeAdvice(text)}`
    : undefined;
}

function headerSizeProblem(value: string | number): string | undefined {
  const bytes = parseSize(value);
  if (bytes === undefined || bytes < HEADER_SIZE_RANGE.min || bytes > HEADER_SIZE_RANGE.max) {
    return `expected ${HEADER_SIZE_EXPECTED}, got ${describeValue(value)}`;
  }
  return undefined;
}

export const CACHE_CONTROL_EXPECTED =
  'a Cache-Control value like "public, max-age=3600" (its lifetimes in seconds: max-age=2592000, not 30d)';

function cacheControlProblem(text: string): string | undefined {
  return isCacheControl(text) ? undefined : `expected ${CACHE_CONTROL_EXPECTED}, got ${describeValue(text)}`;
}

export const FORMAT = {
  name: 'candor.name',
  routeName: 'candor.route-name',
  duration: 'candor.duration',
  span: 'candor.span',
  delay: 'candor.delay',
  lifetime: 'candor.lifetime',
  grace: 'candor.grace',
  size: 'candor.size',
  headerSize: 'candor.header-size',
  listenAddress: 'candor.listen-address',
  targetUrl: 'candor.target-url',
  routeHost: 'candor.route-host',
  hostHeader: 'candor.host-header',
  serverName: 'candor.server-name',
  routePath: 'candor.route-path',
  probePath: 'candor.probe-path',
  matchPath: 'candor.match-path',
  addressOrCidr: 'candor.address-or-cidr',
  statusRanges: 'candor.status-ranges',
  rateKey: 'candor.rate-key',
  otlpEndpoint: 'candor.otlp-endpoint',
  method: 'candor.method',
  headerTemplate: 'candor.header-template',
  location: 'candor.location',
  hashKey: 'candor.hash-key',
  message: 'candor.message',
  cacheControl: 'candor.cache-control',
} as const;

export const FORMAT_PROBLEMS: Readonly<Record<string, (text: string) => string | undefined>> = {
  [FORMAT.routeName]: (text) =>
    ROUTE_NAME_PATTERN.test(text) ? undefined : `expected ${ROUTE_NAME_EXPECTED}, got ${describeValue(text)}`,
  [FORMAT.duration]: durationProblem,
  [FORMAT.span]: spanProblem,
  [FORMAT.delay]: delayProblem,
  [FORMAT.lifetime]: lifetimeProblem,
  [FORMAT.grace]: graceProblem,
  [FORMAT.size]: sizeProblem,
  [FORMAT.headerSize]: headerSizeProblem,
  [FORMAT.listenAddress]: (text) => problemOf(parseListenAddress(text)),
  [FORMAT.targetUrl]: (text) => problemOf(parseTargetUrl(text)),
  [FORMAT.routeHost]: (text) => problemOf(parseRouteHost(text)),
  [FORMAT.hostHeader]: (text) => problemOf(parseHostHeader(text)),
  [FORMAT.serverName]: (text) => problemOf(parseServerName(text)),
  [FORMAT.routePath]: (text) => problemOf(parseRoutePath(text)),
  [FORMAT.probePath]: (text) => problemOf(parseProbePath(text)),
  [FORMAT.matchPath]: (text) => problemOf(parseMatchPath(text)),
  [FORMAT.addressOrCidr]: addressOrCidrProblem,
  [FORMAT.statusRanges]: (text) => problemOf(parseStatusRanges(text)),
  [FORMAT.rateKey]: (text) => problemOf(parseRateKey(text)),
  [FORMAT.otlpEndpoint]: (text) => problemOf(parseOtlpEndpoint(text)),
  [FORMAT.method]: methodProblem,
  [FORMAT.headerTemplate]: (text) => problemOf(parseHeaderTemplate(text)),
  [FORMAT.location]: (text) => problemOf(parseLocation(text)),
  [FORMAT.hashKey]: (text) => problemOf(parseHashKey(text)),
  [FORMAT.message]: messageProblem,
  [FORMAT.cacheControl]: cacheControlProblem,
  ...FLEET_FORMAT_PROBLEMS,
};

for (const [name, problem] of Object.entries(FORMAT_PROBLEMS)) {
  FormatRegistry.Set(name, (text) => problem(text) === undefined);
}
// No message of its own: each field's `expected` says which name it is (a listener's, a plugin's).
FormatRegistry.Set(FORMAT.name, (text) => NAME_PATTERN.test(text));
