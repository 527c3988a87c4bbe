import type { FailureType } from '../../../core/failure/taxonomy.ts';

/**
 * Envoy's response flags (%RESPONSE_FLAGS%, comma-separated) mapped onto the taxonomy. The
 * reference is Envoy's own flag → Proxy-Status table (ProxyStatusUtils::fromStreamInfo in
 * source/common/stream_info/utility.cc): the flags are tried in its order and the first one
 * that names a failure wins, so "UF,URX" is the refused connection, not the exhausted retries.
 * Where this table differs from Envoy's it says why. Flags that are no upstream failure (DC: the
 * client left; DI: a delay was injected; RFCF: a cached answer; DT: a downstream duration limit)
 * map to none.
 */
const ORDER: ReadonlyArray<readonly [string, FailureType]> = [
  ['LH', 'destination_unavailable'], // this host failed its own health check
  ['UH', 'destination_unavailable'], // no healthy upstream host
  ['UT', 'http_response_timeout'],
  // Envoy says connection_timeout for a local reset; it also covers other resets Envoy made
  // itself. Lossy: response code details refine it when the format has them.
  ['LR', 'connection_timeout'],
  ['UR', 'connection_terminated'],
  // Envoy says connection_refused for every failed connect, timeouts and TLS handshakes
  // included. Lossy: refined by the details / transport failure reason (refineConnect).
  ['UF', 'connection_refused'],
  ['UC', 'connection_terminated'],
  ['UO', 'connection_limit_reached'], // circuit breaker overflow
  ['NR', 'destination_not_found'],
  // Envoy says connection_limit_reached; a rate limit is the gateway refusing the request
  // (429), which the taxonomy calls http_request_denied.
  ['RL', 'http_request_denied'],
  ['RLSE', 'connection_limit_reached'],
  ['URX', 'destination_unavailable'], // retries (or connect attempts) exhausted
  ['SI', 'http_response_timeout'], // stream idle timeout
  ['IH', 'http_request_error'],
  ['DPE', 'http_request_error'],
  ['UMSDR', 'http_response_timeout'],
  // Envoy says proxy_configuration_error, a type the taxonomy does not have.
  ['NFCF', 'proxy_internal_error'],
  ['UPE', 'http_protocol_error'],
  ['NC', 'destination_unavailable'],
  ['DF', 'dns_error'],
  // The gateway's own refusals and answers. Envoy's table long left these out; recent releases
  // map some of them too, behind a runtime flag and differently (UAEX as connection_refused, OM
  // and DO as connection_limit_reached): here they are what the taxonomy calls such answers.
  ['UAEX', 'http_request_denied'], // external authorization said no
  ['FI', 'proxy_internal_response'], // an aborted request by fault injection
  ['OM', 'proxy_internal_response'], // overload manager: load shedding
  ['DO', 'proxy_internal_response'], // drop_overload: load shedding
];

/** Flags whose status Envoy made itself: it could not get (or did not ask for) an answer. */
const PROXY_MADE = new Set(ORDER.map(([flag]) => flag));

/** The failure a connect failure (UF) was, from what Envoy says about it, where it says. */
function refineConnect(said: string): FailureType {
  if (/certificate_verify_failed|certificate/.test(said)) return 'tls_certificate_error';
  if (/tls_error|ssl|handshake/.test(said)) return 'tls_protocol_error';
  if (/connection_timeout|connect_timeout|_110\b|timed_out/.test(said)) return 'connection_timeout';
  if (/_113\b|_101\b|no_route_to_host|network_is_unreachable/.test(said)) return 'destination_ip_unroutable';
  // Envoy's own machine ran out (99 EADDRNOTAVAIL: no local port; 24, 23: no file descriptor; 105:
  // no socket memory): the upstream was never asked (Candor's proxy_resources_exhausted).
  if (/connect[_ ]error:[_ ](?:99|24|23|105)\b/.test(said)) return 'proxy_resources_exhausted';
  return 'connection_refused';
}

interface FlagReading {
  readonly failure?: FailureType;
  /** The flag the failure came from. */
  readonly flag?: string;
  readonly clientAborted: boolean;
  /** Whether a flag says the proxy made the status itself. */
  readonly proxyMade: boolean;
}

/**
 * The failure behind a line's flags; `details` (response code details, connection termination
 * details and upstream transport failure reason, where the format logs them) refines it.
 */
export function readFlags(flags: string, details = ''): FlagReading {
  if (flags === '-' || flags === '') return { clientAborted: false, proxyMade: false };
  const set = new Set(flags.split(','));
  const said = details.toLowerCase();
  let failure: FailureType | undefined;
  let flag: string | undefined;
  for (const [name, type] of ORDER) {
    if (!set.has(name)) continue;
    flag = name;
    failure = type;
    break;
  }
  if (flag === 'UF' || (flag === 'URX' && /connection_failure|connect_error/.test(said)))
    failure = refineConnect(said);
  // Retries exhausted on the upstream's own 5xx: the last one was passed through, no failure.
  if (flag === 'URX' && said.includes('via_upstream')) failure = undefined;
  // A reset after the response head was sent on is a cut response, not a lost connection.
  if ((flag === 'UC' || flag === 'UR' || flag === 'LR') && said.includes('after_response_started'))
    failure = 'http_response_incomplete';
  return {
    failure,
    flag,
    clientAborted: set.has('DC'),
    proxyMade: [...set].some((f) => PROXY_MADE.has(f)),
  };
}
