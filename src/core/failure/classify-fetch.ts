import { classifyConnectError, classifyExchangeError, ms } from './classify.ts';
import { Failure } from './failure.ts';

/** Codes of a name that did not resolve: nothing was sent. */
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'ENODATA']);

/**
 * fetch's "fetch failed" TypeError, classified by the gateway's own table: its cause's code
 * says whether the connection was ever made (refused, unreachable, connect timeout, a TLS or
 * certificate failure: nothing was sent). Anything else (a reset, "other side closed", a code
 * the table does not know) may have reached the upstream.
 */
export function classifyFetchError(err: unknown, elapsed: number): Failure {
  let cause = (err as { cause?: unknown } | null)?.cause ?? err;
  // Happy eyeballs: an AggregateError whose first error carries the code.
  if (cause instanceof AggregateError && (cause as { code?: unknown }).code === undefined)
    cause = cause.errors[0] ?? cause;
  const code = String((cause as { code?: unknown } | null)?.code ?? '');
  if (DNS_CODES.has(code)) return classifyConnectError(cause, 'dns', elapsed);
  // undici's own wait for the response head (its dispatcher's headersTimeout) ran out.
  if (code === 'UND_ERR_HEADERS_TIMEOUT')
    return new Failure('http_response_timeout', `no response head in time (${code}) after ${ms(elapsed)}`, {
      stage: 'sent',
      cause,
    });
  if (code !== '') {
    const connect = classifyConnectError(cause, 'tcp', elapsed);
    if (connect.type !== 'connection_terminated') return connect;
    return classifyExchangeError(cause, 'sent', elapsed);
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return new Failure('connection_terminated', `connection lost (${message}) after ${ms(elapsed)}`, {
    stage: 'sent',
    cause,
  });
}
