/**
 * Checks that span fields: a route's upstream must exist, two listeners cannot share an
 * address, two routes cannot claim the same requests (routing-checks.ts), an exchange cannot time out
 * before its response head may arrive, a retry's backoff cannot start above its cap, a drain
 * cannot wait out its whole deadline. An upstream nobody routes to is fine: it may be staged
 * for the next deploy.
 */

import { didYouMean } from '../did-you-mean.ts';
import { checkAccess } from './access-checks.ts';
import { parseTargetUrl } from './addresses.ts';
import { checkCaches } from './cache-checks.ts';
import { checkSplitsAndCanaries } from './canary-checks.ts';
import {
  checkClientCertificateRoutes,
  checkForwardedCertificates,
  warnBoundTokenRoutes,
} from './client-certificate-checks.ts';
import { DEFAULTS } from './defaults.ts';
import { describeValue } from './describe-value.ts';
import { checkDiscovery } from './fleet-checks.ts';
import { NAME_CHARS, NAME_PATTERN } from './formats.ts';
import { checkDuplicateListeners, checkListenerNames, listenerFacts } from './listener-checks.ts';
import { checkPlugins } from './plugin-checks.ts';
import { entriesOf, isMapping, itemsOf, mappingAt, stringAt } from './raw-access.ts';
import type { Report, WrittenElsewhere } from './report.ts';
import { checkRouteNames } from './route-names.ts';
import { checkRouteTimeouts } from './route-timeout-checks.ts';
import { checkRoutes, checkUpstreamRouting } from './routing-checks.ts';
import { formatDuration, formatSize, parseDuration, parseSize } from './units.ts';

/**
 * `warn` is told what is allowed but likely not meant (a route that gets only some of its
 * requests); `elsewhere` says where a route's field it took from route_defaults is written.
 */
export function checkCrossFields(
  document: unknown,
  report: Report,
  warn: Report = () => {},
  elsewhere: WrittenElsewhere = () => undefined,
): void {
  if (!isMapping(document)) return;
  // None written (a gateway whose routes all redirect): every upstream a route names is unknown.
  // Undefined only for a section that is no mapping, which the schema reports.
  const upstreams =
    document.upstreams === undefined ? {} : isMapping(document.upstreams) ? document.upstreams : undefined;
  checkUpstreamNames(upstreams, report);
  checkRouteUpstreams(document.routes, upstreams, report);
  checkSplitsAndCanaries(document.routes, upstreams, report);
  checkRouteNames(document.routes, report, warn);
  const trusted = Array.isArray(document.trust_forwarded_from) && document.trust_forwarded_from.length > 0;
  const listeners = listenerFacts(document.listen, trusted);
  checkListenerNames(listeners, report);
  checkRoutes(document.routes, listeners, report, warn);
  checkAccess(document.routes, upstreams, report, elsewhere);
  checkForwardedCertificates(document.listen, trusted, report);
  checkClientCertificateRoutes(document.listen, document.routes, listeners, report);
  warnBoundTokenRoutes(document.listen, document.routes, listeners, warn);
  checkCaches(document.routes, report);
  checkPlugins(document.plugins, document.routes, report);
  checkMergedPaths(document.paths, document.routes, report);
  checkEncodedSlashPrefixes(document.routes, report);
  checkParameterPrefixes(document.routes, report);
  checkUpstreamRouting(upstreams, report);
  checkDuplicateListeners(document, report);
  checkTimeoutOrder(upstreams, report);
  checkRouteTimeouts(document.routes, upstreams, report, elsewhere);
  checkBackoffOrder(upstreams, report);
  checkProtocolSchemes(upstreams, report);
  checkStreamsOnHttp1(upstreams, warn);
  checkSlowStartOnHash(upstreams, warn);
  checkTargetsOnce(upstreams, warn);
  checkDrainOrder(document.drain, report);
  checkHttp2Settings(document.limits, report);
  checkDiscovery(upstreams, report);
  checkUriLength(document.limits, report);
}

function checkUpstreamNames(upstreams: Record<string, unknown> | undefined, report: Report): void {
  for (const name of Object.keys(upstreams ?? {})) {
    if (!NAME_PATTERN.test(name)) {
      report(
        ['upstreams', name],
        `expected an upstream name of ${NAME_CHARS}, got ${describeValue(name)}`,
        'key',
      );
    }
  }
}

/** With merge_slashes, a request path never holds "//": a route's prefix that does would match nothing. */
function checkMergedPaths(paths: unknown, routes: unknown, report: Report): void {
  const merge = mappingAt({ paths }, 'paths')?.merge_slashes;
  if ((typeof merge === 'boolean' ? merge : DEFAULTS.paths.mergeSlashes) === false) return;
  for (const [index, route] of itemsOf(routes)) {
    // Trailing slashes are dropped from a prefix anyway ("/v1//" is "/v1").
    const path = stringAt(mappingAt(route, 'match'), 'path')?.replace(/\/+$/, '');
    if (path === undefined || !path.includes('//')) continue;
    report(
      ['routes', index, 'match', 'path'],
      `"${path}" would match no request: paths.merge_slashes merges "//" before matching (write "${path.replace(/\/{2,}/g, '/')}", or set paths.merge_slashes: false)`,
    );
  }
}

/**
 * A prefix holding an encoded slash matches only paths that hold one, which a route without
 * allow_encoded_slashes answers 400 (request-path.ts): such a route could answer nothing else.
 * A redirect's route answers them with its redirect. (A prefix in another case, `%2f`, is
 * refused already: not the normal form.)
 */
function checkEncodedSlashPrefixes(routes: unknown, report: Report): void {
  for (const [index, route] of itemsOf(routes)) {
    const path = stringAt(mappingAt(route, 'match'), 'path');
    if (path === undefined || route.allow_encoded_slashes === true || route.redirect !== undefined) continue;
    if (!/%2F|%5C/.test(path)) continue;
    report(
      ['routes', index, 'match', 'path'],
      `"${path}" would match only paths holding an encoded slash (%2F or %5C), which this route answers 400: add allow_encoded_slashes: true`,
    );
  }
}

/**
 * A prefix holding `;` matches only paths whose `;` parameters a servlet container drops, which
 * then read as another route's path (or none): route-request.ts answers those 400, so such a
 * route could answer nothing.
 */
function checkParameterPrefixes(routes: unknown, report: Report): void {
  for (const [index, route] of itemsOf(routes)) {
    const path = stringAt(mappingAt(route, 'match'), 'path');
    if (path === undefined || !path.includes(';')) continue;
    report(
      ['routes', index, 'match', 'path'],
      `"${path}" would match only paths with ";" parameters, which the gateway answers 400 where dropping them (as a servlet container does) makes another route's path: write "${path.replaceAll(';', '%3B')}" for a ";" that is data`,
    );
  }
}

function checkRouteUpstreams(
  routes: unknown,
  upstreams: Record<string, unknown> | undefined,
  report: Report,
): void {
  if (upstreams === undefined) return;
  const defined = Object.keys(upstreams);
  for (const [index, route] of itemsOf(routes)) {
    const upstream = stringAt(route, 'upstream');
    if (upstream === undefined || upstream === '' || Object.hasOwn(upstreams, upstream)) continue;
    const suggestion = didYouMean(upstream, defined);
    const hint =
      suggestion === undefined ? `defined: ${defined.join(', ') || 'none'}` : `did you mean '${suggestion}'?`;
    report(['routes', index, 'upstream'], `no upstream named '${upstream}' (${hint})`);
  }
}

function checkTimeoutOrder(upstreams: Record<string, unknown> | undefined, report: Report): void {
  for (const [name, upstream] of entriesOf(upstreams)) {
    const timeouts = upstream.timeouts === undefined ? {} : mappingAt(upstream, 'timeouts');
    const total = durationOf(timeouts, 'total', DEFAULTS.upstream.timeouts.total);
    const answer = durationOf(timeouts, 'response', DEFAULTS.upstream.timeouts.response);
    if (total === undefined || answer === undefined || total.ms >= answer.ms) continue;
    // Point at whichever the operator wrote; if both, total is the one that reads as too short.
    const field = total.written ? 'total' : 'response';
    report(
      ['upstreams', name, 'timeouts', field],
      `timeouts.total (${total.text}) must be at least timeouts.response (${answer.text}): ` +
        'the whole exchange cannot end before its response head is allowed to arrive',
    );
  }
}

/**
 * A retry waits up to min(max, base × 2^(n−1)): a base above the cap (`base: 1s` under the default
 * 250ms max) would never be waited, every retry coming sooner than the operator wrote.
 */
function checkBackoffOrder(upstreams: Record<string, unknown> | undefined, report: Report): void {
  const fallback = DEFAULTS.upstream.retries;
  for (const [name, upstream] of entriesOf(upstreams)) {
    const backoff = mappingAt(mappingAt(upstream, 'retries'), 'backoff');
    const base = durationOf(backoff, 'base', fallback.backoffBase);
    const max = durationOf(backoff, 'max', fallback.backoffMax);
    if (base === undefined || max === undefined || base.ms <= max.ms) continue;
    report(
      ['upstreams', name, 'retries', 'backoff', base.written ? 'base' : 'max'],
      `backoff.base (${base.text}) must be at most backoff.max (${max.text}): ` +
        'each retry waits at most max, so a longer base would never be waited',
    );
  }
}

/** h2 is HTTP/2 negotiated inside TLS, h2c is HTTP/2 in the clear: each target's scheme must say the same. */
function checkProtocolSchemes(upstreams: Record<string, unknown> | undefined, report: Report): void {
  for (const [name, upstream] of entriesOf(upstreams)) {
    const protocol = stringAt(upstream, 'protocol');
    if (protocol !== 'h2' && protocol !== 'h2c') continue;
    const scheme = protocol === 'h2' ? 'https:' : 'http:';
    for (const [index, target] of itemsOf(upstream.targets)) {
      const url = stringAt(target, 'url');
      if (url === undefined || !URL.canParse(url) || new URL(url).protocol === scheme) continue;
      report(
        ['upstreams', name, 'targets', index, 'url'],
        protocol === 'h2'
          ? `protocol h2 is HTTP/2 over TLS: expected an https:// URL, got ${url} (for HTTP/2 in the clear, use protocol: h2c)`
          : `protocol h2c is HTTP/2 in the clear: expected an http:// URL, got ${url} (for HTTP/2 over TLS, use protocol: h2)`,
      );
    }
  }
}

/**
 * A target is its origin: its pool, health, ejection, an operator's drain or weight and its turn
 * are kept by it (across reloads too, and a DNS answer naming one twice is one target). A second
 * entry for one origin is a second turn of one server: twice its share in round robin, none of
 * the hash ring's keys (its points are the first entry's), and new at each reload (ramped by
 * slow_start again). A warning, not a refusal: a config that writes one server twice to give a
 * retry somewhere to go (its one server, tried again) runs as it did.
 */
function checkTargetsOnce(upstreams: Record<string, unknown> | undefined, warn: Report): void {
  for (const [name, upstream] of entriesOf(upstreams)) {
    const first = new Map<string, { index: number; weight: number }>();
    for (const [index, target] of itemsOf(upstream.targets)) {
      const url = stringAt(target, 'url');
      const parsed = url === undefined ? undefined : parseTargetUrl(url);
      if (parsed === undefined || !('value' in parsed)) continue;
      const weight = typeof target.weight === 'number' ? target.weight : 1;
      const seen = first.get(parsed.value.origin);
      if (seen === undefined) {
        first.set(parsed.value.origin, { index, weight });
        continue;
      }
      seen.weight = Math.min(1000, seen.weight + weight);
      warn(
        ['upstreams', name, 'targets', index, 'url'],
        `${url} is the server targets[${seen.index}] names already (${parsed.value.origin}): its health, ejection, drain and connections are kept by its address, and a second entry is a second turn of it (twice its share in round robin, none of a hash ring's keys); write it once, with weight: ${seen.weight} for the share both entries ask`,
      );
    }
  }
}

/**
 * `pool.max_streams` bounds the streams of one HTTP/2 connection: on an upstream spoken to over
 * HTTP/1.1 (the default protocol) it is valid and does nothing, which its writer did not mean.
 */
function checkStreamsOnHttp1(upstreams: Record<string, unknown> | undefined, warn: Report): void {
  for (const [name, upstream] of entriesOf(upstreams)) {
    const protocol = stringAt(upstream, 'protocol') ?? 'http1';
    const pool = mappingAt(upstream, 'pool');
    if (protocol !== 'http1' || pool?.max_streams === undefined) continue;
    warn(
      ['upstreams', name, 'pool', 'max_streams'],
      'bounds the streams of one HTTP/2 connection, and this upstream speaks HTTP/1.1 (protocol: http1, one request a connection at a time): it does nothing here; bound the connections with pool.max_connections, or set protocol: h2c or h2',
    );
  }
}

/**
 * `slow_start` ramps a target's weight, and the hash ring sends each key to its own target
 * whatever its weight of the moment: with `balancer: hash` it is valid and does nothing (a
 * target back takes all its keys at once), which its writer did not mean.
 */
function checkSlowStartOnHash(upstreams: Record<string, unknown> | undefined, warn: Report): void {
  for (const [name, upstream] of entriesOf(upstreams)) {
    if (
      stringAt(upstream, 'balancer') !== 'hash' ||
      !isMapping(upstream) ||
      upstream.slow_start === undefined
    )
      continue;
    warn(
      ['upstreams', name, 'slow_start'],
      'does nothing with balancer: hash (a key goes to its own target, at whatever share of its weight): a target back in rotation takes its keys back at once; drop it, or use round_robin or least_conn for a ramp',
    );
  }
}

/** A duration field as written, or its default; undefined when the mapping or the value is malformed. */
function durationOf(
  mapping: Record<string, unknown> | undefined,
  key: string,
  fallback: number,
): { ms: number; text: string; written: boolean } | undefined {
  if (mapping === undefined) return undefined;
  const written = mapping[key];
  if (written === undefined)
    return { ms: fallback, text: `${formatDuration(fallback)}, the default`, written: false };
  const ms = typeof written === 'string' ? parseDuration(written) : undefined;
  return ms === undefined ? undefined : { ms, text: written as string, written: true };
}

/** drain.timeout counts from the signal: a delay as long leaves no time at all to finish requests. */
function checkDrainOrder(drain: unknown, report: Report): void {
  if (!isMapping(drain)) return;
  const delay = typeof drain.delay === 'string' ? parseDuration(drain.delay) : DEFAULTS.drain.delay;
  const timeout = typeof drain.timeout === 'string' ? parseDuration(drain.timeout) : DEFAULTS.drain.timeout;
  if (delay === undefined || timeout === undefined || delay < timeout) return;
  const field = typeof drain.delay === 'string' ? 'delay' : 'timeout';
  report(
    ['drain', field],
    `drain.delay (${formatDuration(delay)}) must be shorter than drain.timeout (${formatDuration(timeout)}): ` +
      'the timeout counts from the signal, so requests in flight would get no time to finish',
  );
}

/**
 * A request target is at least one byte (`/`, `*`): a uri_length of 0, written as "no limit" as
 * some tools read 0, would answer every request 414.
 */
function checkUriLength(limits: unknown, report: Report): void {
  if (!isMapping(limits)) return;
  const written = limits.uri_length;
  if ((typeof written === 'string' || typeof written === 'number') && parseSize(written) === 0)
    report(
      ['limits', 'uri_length'],
      'limits.uri_length must be above zero (it is the longest request target accepted, not "no limit"): at 0 every request would be refused with 414',
    );
}

/** The largest value an HTTP/2 SETTINGS parameter holds (RFC 9113 §6.5.1: 32 bits). */
const MAX_SETTING = 2 ** 32 - 1;

/**
 * The bounds the gateway sends every HTTP/2 client in its SETTINGS: a value past 32 bits cannot
 * be sent, and node:http2 throws it at the first connection (a RangeError that ends the process).
 */
function checkHttp2Settings(limits: unknown, report: Report): void {
  const http2 = isMapping(limits) ? mappingAt(limits, 'http2') : undefined;
  if (http2 === undefined) return;
  // node:http2 takes the bound in whole MiB, at least 1: written 0, it was 1 MiB unsaid.
  const memory = http2.max_session_memory;
  if ((typeof memory === 'string' || typeof memory === 'number') && parseSize(memory) === 0)
    report(
      ['limits', 'http2', 'max_session_memory'],
      'limits.http2.max_session_memory must be above zero: node:http2 holds a connection to whole MiB, 1 at least, so 0 would be 1MiB, not "nothing"; write the bound meant, 1MiB or more',
    );
  for (const field of ['max_header_list_size', 'header_table_size']) {
    const value = http2[field];
    const bytes = typeof value === 'string' || typeof value === 'number' ? parseSize(value) : undefined;
    if (bytes === 0 && field === 'max_header_list_size') {
      report(
        ['limits', 'http2', field],
        'limits.http2.max_header_list_size must be above zero: every request has a header list (its pseudo-fields at least), so at 0 every HTTP/2 request would be refused with 431',
      );
      continue;
    }
    if (bytes === undefined || bytes <= MAX_SETTING) continue;
    report(
      ['limits', 'http2', field],
      `expected at most ${MAX_SETTING} bytes (sent to every HTTP/2 client in SETTINGS, whose values hold 32 bits), got ${formatSize(bytes)}`,
    );
  }
}
