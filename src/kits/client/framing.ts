/**
 * A response whose Transfer-Encoding the gateway's own parser refuses (response-rules.ts:
 * `chunked` must come last and once) is garbage, `http_response_transfer_coding`. fetch reads
 * such a body all the same: `Transfer-Encoding: gzip` alone is read until the close and handed
 * over still compressed, as if plain; `identity` or `chunked, chunked` are read as if valid. The
 * client calls each what the gateway calls it, an answer that is not valid HTTP, never a 200.
 */
import { transferCodings } from '../../core/http1/response-rules.ts';

/** The code classify-fetch.ts reads as the garbage shape, `http_response_transfer_coding`. */
export const REFUSED_TRANSFER_CODING = 'ERR_CANDOR_TRANSFER_CODING';

/**
 * fetch's kind of failure ("fetch failed", the reason as cause) for a response whose framing the
 * gateway refuses, its body cancelled; undefined for one it reads. A response without a body (to
 * a HEAD, a 204, a 304) has nothing to frame, whatever its fields say.
 */
export function refusedFraming(response: Response, method: string): TypeError | undefined {
  const coding = response.headers.get('transfer-encoding');
  if (coding === null || method === 'HEAD' || response.status === 204 || response.status === 304)
    return undefined;
  const refusal = transferCodings(coding);
  if (typeof refusal !== 'string') return undefined;
  response.body?.cancel().catch(() => {});
  const cause = Object.assign(new Error(refusal), { code: REFUSED_TRANSFER_CODING });
  return new TypeError('fetch failed', { cause });
}
