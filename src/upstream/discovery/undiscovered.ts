import type { DiscoveryConfig } from '../../core/config/types.ts';
import { classifyResolverCode } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';

/**
 * What a request gets from an upstream whose DNS discovery has found no target yet (no good
 * answer since it started): the failure of its latest question, as a lookup's failure is told
 * for a written target (dns_error with the rcode, dns_timeout), not a "no target in rotation"
 * that hides the cause. While the first question is still out (for less than timeouts.connect:
 * past it, 504 dns_timeout), or when the gateway refused
 * every record of the answer, the gateway's 503.
 * `failure` is the discovery report's: null (answered, or not yet), "empty", or the code.
 */
export function undiscoveredFailure(
  upstream: string,
  discovery: DiscoveryConfig,
  failure: string | null | undefined,
  waited?: { readonly ms: number; readonly connectTimeout: number },
): Failure {
  const asked = `${discovery.dns} (${discovery.type})`;
  const none = `: "${upstream}" has no target yet`;
  // Out longer than a connection may take to open (timeouts.connect): the lookup is as slow as
  // an unreachable target's connect, the 504 of the failure table, not the resolver's own
  // time-out (some 5 s later) spent as 503s that say no target is healthy.
  if (
    (failure === null || failure === undefined) &&
    waited !== undefined &&
    waited.ms >= waited.connectTimeout
  )
    return new Failure(
      'dns_timeout',
      `no DNS answer for ${asked} within ${waited.connectTimeout / 1000} s (timeouts.connect)${none}`,
    );
  if (failure === null || failure === undefined)
    return new Failure('destination_unavailable', `waiting for the first DNS answer for ${asked}${none}`, {
      retryAfter: 1,
    });
  if (failure === 'empty')
    return new Failure('dns_error', `the DNS answer for ${asked} has no records${none}`, {
      params: { rcode: 'NOERROR' },
    });
  // DNS answered; the gateway refused every record (its own admin listener, a metadata
  // address: the warn line names them), so it is the gateway's own "no target".
  if (failure === 'EBADRECORD')
    return new Failure(
      'destination_unavailable',
      `every record of the DNS answer for ${asked} was refused as a target${none}`,
      { retryAfter: 1 },
    );
  return classifyResolverCode(failure, asked, none);
}
