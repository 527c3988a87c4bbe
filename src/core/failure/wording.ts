import type { Failure } from './failure.ts';

/** What an error body may say: nothing here may leak an internal address unless the config allows it. */
export interface ErrorBodyContext {
  readonly failure: Failure;
  readonly proxyName: string;
  readonly requestId: string;
  /** The upstream as the client may see it: its name, or its address when exposed. */
  readonly nextHop: string | undefined;
  /** errors.detail: minimal — the details and the next hop are not for clients to see. */
  readonly minimal?: boolean;
}

export const REASONS: Readonly<Record<number, string>> = {
  // The gateway's own answers that are not failures (a redirect, a preflight, OPTIONS *, the
  // probes), and an upstream's answer received over HTTP/2, which has no reason phrase, relayed
  // to an HTTP/1.1 client: a status line with an empty reason phrase is valid (RFC 9112 §4) but
  // reads as a mistake. RFC 9110 §15's phrases, and those of the registry's other common codes.
  100: 'Continue',
  101: 'Switching Protocols',
  103: 'Early Hints',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  207: 'Multi-Status',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  423: 'Locked',
  425: 'Too Early',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
  507: 'Insufficient Storage',
  511: 'Network Authentication Required',
};

/** One plain sentence on which hop failed, e.g. 'The gateway "edge-1" could not use the upstream "api": …'. */
export function describeFailure(ctx: ErrorBodyContext): string {
  if (ctx.minimal) return minimalDescription(ctx);
  const { failure, proxyName, nextHop } = ctx;
  const shape = failure.kind.shape;
  if (shape === 'client')
    return `The gateway "${proxyName}" could not accept this request: ${failure.details}.`;
  if (shape === 'internal') {
    // It failed on the upstream's answer (a plugin's onResponse): the upstream answered, whatever its status.
    if (failure.receivedStatus !== undefined)
      return `The gateway "${proxyName}" hit an internal error on the answer of the upstream "${nextHop ?? 'unknown'}" (its status ${failure.receivedStatus}): the upstream answered, the gateway failed on its answer.`;
    return `The gateway "${proxyName}" hit an internal error; the upstream was not at fault.`;
  }
  if (shape === 'gateway') {
    const about = nextHop ? ` for the upstream "${nextHop}"` : '';
    // The details are the gateway's own words (a maintenance message, which limit was hit),
    // already public in Proxy-Status.
    return `The gateway "${proxyName}" answered on its own${about}: ${failure.kind.explanation}. Details: ${sentence(failure.details)}`;
  }
  // The client's own limit refused a good answer (CLIENTS_DOING): the upstream did not fail.
  if (failure.clientsDoing)
    return `The gateway "${proxyName}" could not pass on the answer of the upstream "${nextHop ?? 'unknown'}": ${failure.kind.explanation} (${failure.details}).`;
  return `The gateway "${proxyName}" is working, but the upstream "${nextHop ?? 'unknown'}" failed: ${failure.kind.explanation} (${failure.details}).`;
}

/** The same sentence without the details or the upstream's name (errors.detail: minimal). */
function minimalDescription(ctx: ErrorBodyContext): string {
  const { failure, proxyName } = ctx;
  const shape = failure.kind.shape;
  if (shape === 'client') return `The gateway "${proxyName}" could not accept this request.`;
  if (shape === 'internal')
    return failure.receivedStatus === undefined
      ? `The gateway "${proxyName}" hit an internal error; the upstream was not at fault.`
      : `The gateway "${proxyName}" hit an internal error on its upstream's answer (its status ${failure.receivedStatus}).`;
  if (shape === 'gateway')
    return `The gateway "${proxyName}" answered on its own: ${failure.kind.explanation}.`;
  if (failure.clientsDoing)
    return `The gateway "${proxyName}" could not pass on its upstream's answer: ${failure.kind.explanation}.`;
  return `The gateway "${proxyName}" is working, but its upstream failed: ${failure.kind.explanation}.`;
}

const RETRY_LATER = 'You may retry later, with exponential backoff; retrying at once is unlikely to help.';

/**
 * What the client may do next, in plain words. A request that reached the upstream may have been
 * acted on before it failed: the gateway itself tries such a one again only when that is safe
 * (DESIGN, retry-policy.ts), and the advice says the same to the client.
 */
export function clientAdvice(failure: Failure): string {
  if (failure.retryAfter !== undefined) {
    const unit = failure.retryAfter === 1 ? 'second' : 'seconds';
    return `You may retry after ${failure.retryAfter} ${unit} (see Retry-After).`;
  }
  // RFC 9110 §15.5.9: late, not wrong; waiting first would not make it any faster.
  if (failure.status === 408)
    return 'You may send the request again on a new connection, whole and without pauses: the gateway waits only so long for it.';
  // RFC 9110 §15.5.20: the request is fine, the connection was the wrong one for it; a new one
  // serves it at once, no backoff needed.
  if (failure.type === 'misdirected_request')
    return 'Send the request again on a new connection, whose TLS server name (SNI) is its host.';
  if (failure.clientMayRetry)
    return failure.reachedUpstream
      ? `${RETRY_LATER} The upstream had the request and may have acted on it: repeat it only if that is safe (an idempotent method such as GET, or an Idempotency-Key).`
      : RETRY_LATER;
  // A sign-in declined at the identity provider: its 401 carries a challenge (RFC 9110 §15.5.2
  // asks one of every 401), but a person in a browser has no credentials to send; they may sign in again.
  if (failure.signInAgain !== undefined)
    return `Nothing was signed in. To try again, ask for ${failure.signInAgain}: it begins a new sign-in.`;
  // RFC 9110 §15.5.2: a 401 with its challenge; credentials, not the configuration, are what it lacks.
  if (failure.challenge !== undefined)
    return 'Send the request again with valid credentials, as the WWW-Authenticate challenge asks.';
  // The gateway's own rules refused this client (its address, certificate or identity not among
  // those allowed: a 403): nothing is broken, and nothing the upstream does would change it.
  if (failure.type === 'http_request_denied')
    return "Retrying will not help: this gateway's rules do not let this request through (the client's address, certificate or identity is not among those allowed). Ask the site's operator if it should be.";
  // Neither the upstream nor the client: a route, or a proxy behind the gateway, sends the request back to it.
  if (failure.type === 'proxy_loop_detected')
    return 'Retrying will not help until the configuration is fixed: the request came back to this gateway (its own name was already in Via), so a route or a proxy behind it points back at it.';
  // RFC 9111 §5.2.1.7: nothing is broken; the client chose not to reach the upstream.
  if (failure.type === 'only_if_cached')
    return 'Nothing is stored for this request yet: ask without only-if-cached to reach the upstream.';
  if (failure.kind.shape === 'client')
    return 'Retrying the same request will fail the same way: change the request.';
  // Nothing answers this URL here (no route, or no file under a static route's root): the URL,
  // not the upstream, is the first thing to look at.
  if (failure.type === 'destination_not_found')
    return 'Retrying the same request will not help: check the URL, nothing here answers it.';
  // The limit is this client's own (its HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE).
  if (failure.type === 'client_header_list_size')
    return "Retrying will not help until this client takes a larger header list (its SETTINGS_MAX_HEADER_LIST_SIZE) or the answer's head shrinks.";
  return 'Retrying will not help until the upstream or the gateway configuration is fixed.';
}

function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
