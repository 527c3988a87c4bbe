import type { HashKey } from '../../core/config/types.ts';
import { hashKeyOf } from '../select/hash-key.ts';
import type { SessionRequest } from './session-request.ts';

/**
 * What the hash balancer hashes for this request (select/hash-key.ts), its client the one the
 * IP lists judge: behind trusted proxies, the one they vouch for in X-Forwarded-For.
 */
export function requestHashKey(key: HashKey, req: SessionRequest): string {
  return hashKeyOf(key, { headers: req.fields }, req.record.clientAddress, req.runtime.trust);
}
