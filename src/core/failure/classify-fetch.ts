import { classifyConnectError, classifyExchangeError, ms } from './classify.ts';
import { Failure } from './failure.ts';

/** Codes of a name that did not resolve: nothing was sent. */
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'ENODATA']);

/**
 * fetch's "fetch failed" TypeError, classified by the gateway's own table: its cause's code
 * says whether the connection was ever made (refused, unreachable, connect timeout, a TLS or
 * certificate failure: nothing was sent). Anything else (a reset, "other side closed", a code
 * the table does not know) may have reached the upstream. `body_streaming`: the error came
 * while the body of an answer whose head was in was read (a connection lost then cut it short).
 */
export function classifyFetchError(
  err: unknown,
  elapsed: number,
  stage: 'sent' | 'body_streaming' = 'sent',
): Failure {
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
  const garbage = notHttp(cause, code, elapsed);
  if (garbage !== undefined) return garbage;
  const message = cause instanceof Error ? cause.message : String(cause);
  if (stage === 'body_streaming')
    return code === ''
      ? new Failure(
          'http_response_incomplete',
          `response body cut short: connection lost (${message}) after ${ms(elapsed)}`,
          {
            stage,
            cause,
          },
        )
      : classifyExchangeError(cause, stage, elapsed);
  if (code !== '') {
    const connect = classifyConnectError(cause, 'tcp', elapsed);
    if (connect.type !== 'connection_terminated') return connect;
    return classifyExchangeError(cause, 'sent', elapsed);
  }
  return new Failure('connection_terminated', `connection lost (${message}) after ${ms(elapsed)}`, {
    stage: 'sent',
    cause,
  });
}

/** A reason in llhttp's words that is about the body's framing, not the head's syntax. */
const FRAMING = /chunk|transfer-encoding|content-length/i;

/**
 * An answer that came but is not HTTP/1.1 (a banner, a broken status line or field, a body
 * framed two ways, a head past undici's bound): the next hop's garbage, by its shape as the
 * gateway's own client classifies it, never a "connection lost" (the connection was not). The
 * request reached it: `sent`, as every other failure after the connect here.
 */
function notHttp(cause: unknown, code: string, elapsed: number): Failure | undefined {
  const after = `after ${ms(elapsed)}`;
  if (code === 'UND_ERR_HEADERS_OVERFLOW')
    return new Failure(
      'http_response_header_section_size',
      `its response head is past the bound the client reads (${code}) ${after}`,
      {
        stage: 'sent',
        cause,
      },
    );
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH')
    return new Failure(
      'http_response_transfer_coding',
      `its body does not match its Content-Length (${code}) ${after}`,
      {
        stage: 'sent',
        cause,
      },
    );
  if (!(cause instanceof Error) || cause.name !== 'HTTPParserError') return undefined;
  // "Response does not match the HTTP/1.1 protocol (Invalid header token)": the parser's reason.
  const reason = /\((.*)\)$/.exec(cause.message)?.[1] ?? cause.message;
  return FRAMING.test(reason)
    ? new Failure(
        'http_response_transfer_coding',
        `its body framing is not valid HTTP/1.1 (${reason}) ${after}`,
        {
          stage: 'sent',
          cause,
        },
      )
    : new Failure('http_protocol_error', `its answer is not valid HTTP/1.1 (${reason}) ${after}`, {
        stage: 'sent',
        cause,
      });
}
