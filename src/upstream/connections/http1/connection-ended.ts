/**
 * A connection that ends under a response, named once for the gateway's connections and for
 * `candor diagnose`: before or inside the head it is connection_terminated (tls_alert_received
 * when a TLS alert ended it), inside the body http_response_incomplete; the socket's error, if
 * any, says how it went away.
 */
import { connectionDropped, describeDrop, ms } from '../../../core/failure/classify.ts';
import { Failure } from '../../../core/failure/failure.ts';
import type { Framing } from '../../../core/http1/parsed-answer.ts';

/**
 * `where`: 'idle' before the first byte, 'head' inside a head, 'body' inside the body (also a
 * close-delimited one ended by an error: a reset may have cut it anywhere). `elapsed`: since
 * the request went out, as the gateway counts it. `unsent`: none of the request had left the
 * gateway (a pooled connection the upstream closed as the request was given it): it never
 * reached the upstream, and may go again whatever its method.
 */
export function connectionEnded(
  where: 'idle' | 'head' | 'body',
  err: NodeJS.ErrnoException | undefined,
  elapsed: number,
  framing?: Framing,
  unsent = false,
): Failure {
  const drop = describeDrop(err);
  if (where === 'body') {
    const how = framing === 'length' && err === undefined ? 'body shorter than Content-Length' : drop;
    return new Failure('http_response_incomplete', `response body cut short: ${how} after ${ms(elapsed)}`, {
      stage: 'body_streaming',
      cause: err,
    });
  }
  if (where === 'idle' && unsent)
    return new Failure('connection_terminated', `${drop} before the request went out after ${ms(elapsed)}`, {
      stage: 'not_sent',
      unprocessed: true,
      cause: err,
    });
  const at = where === 'head' ? 'in the middle of the response head' : 'before the response head';
  return connectionDropped(err, `${drop} ${at}`, `after ${ms(elapsed)}`, 'sent');
}
