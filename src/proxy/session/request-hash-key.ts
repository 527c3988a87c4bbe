import type { HashKey } from '../../core/config/types.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';
import { fieldsAfterAccess } from '../admit/fields-after-access.ts';
import { hashKeyOf } from '../select/hash-key.ts';
import type { SessionRequest } from './session-request.ts';

/**
 * What the hash balancer hashes for this request (select/hash-key.ts): a header or a cookie as
 * access left it (`edit`, admit-request.ts's requestEdit: a JWT's claims_to_headers, forward
 * auth's copy_headers in, the client's own copies out), as the rate limit and the split read it;
 * its client the one the IP lists judge: behind trusted proxies, the one they vouch for in
 * X-Forwarded-For.
 */
export function requestHashKey(key: HashKey, req: SessionRequest, edit: AnswerEdit | undefined): string {
  const fields = key.kind === 'client' ? req.fields : fieldsAfterAccess(req.head.headers, req.fields, edit);
  return hashKeyOf(key, { headers: fields }, req.record.clientAddress, req.runtime.trust);
}
