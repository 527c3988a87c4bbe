import type { FieldMap } from '../../core/net/downstream.ts';
import { statedProto } from '../../core/net/forwarded-proto.ts';
import type { TrustList } from '../../core/net/trust.ts';
import type { ListenerFacts } from '../accept/request-handlers.ts';

/**
 * The listener as this request is served on it: behind a TLS terminator in
 * `trust_forwarded_from`, with the scheme it says its client used (X-Forwarded-Proto, else
 * Forwarded's proto=: forwarded-proto.ts), so `match.scheme`, a redirect's scheme, the cache's
 * key and the X-Forwarded-Proto and Forwarded proto= the upstream is told are the client's, and
 * an http → https redirect does not send the terminator's https request back to itself. Anyone
 * else's word changes nothing. The listener itself when nothing is stated (no trust list, the
 * usual gateway: one call that answers false, no object made).
 */
export function servedListener(
  listener: ListenerFacts,
  peer: string,
  fields: FieldMap,
  trust: TrustList,
): ListenerFacts {
  if (!trust.has(peer)) return listener;
  const stated = statedProto(fields);
  return stated === undefined || stated === listener.protocol ? listener : { ...listener, protocol: stated };
}
