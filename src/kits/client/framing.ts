/**
 * A response's Transfer-Encoding, read as the gateway's own parser reads it (response-rules.ts:
 * `chunked` last and once, and under it only codings zlib undoes). fetch reads any such body and
 * undoes none of its transfer codings but chunked:
 * - one the gateway refuses is garbage, `http_response_transfer_coding`: `gzip` alone was read
 *   until the close and handed over still compressed, as if plain; `identity` or `chunked,
 *   chunked` as if valid. The client calls each what the gateway calls it, never a 200;
 * - one it takes (`gzip, chunked`, `deflate, chunked`) is undone here, as the gateway undoes it:
 *   fetch gave the compressed bytes as the body.
 */
import { transferCodings } from '../../core/http1/response-rules.ts';

/** The code classify-fetch.ts reads as the garbage shape, `http_response_transfer_coding`. */
export const REFUSED_TRANSFER_CODING = 'ERR_CANDOR_TRANSFER_CODING';

/**
 * The response with its transfer codings undone, or fetch's kind of failure ("fetch failed", the
 * reason as cause) for one whose framing the gateway refuses, its body cancelled. A response
 * without a body (to a HEAD, a 204, a 304) has nothing to frame, whatever its fields say.
 */
export function readFraming(response: Response, method: string): Response | TypeError {
  const coding = response.headers.get('transfer-encoding');
  if (coding === null || method === 'HEAD' || response.status === 204 || response.status === 304)
    return response;
  const codings = transferCodings(coding);
  if (typeof codings === 'string') {
    response.body?.cancel().catch(() => {});
    const cause = Object.assign(new Error(codings), { code: REFUSED_TRANSFER_CODING });
    return new TypeError('fetch failed', { cause });
  }
  if (codings.length === 0 || response.body === null) return response;
  // HTTP's deflate is the zlib format, DecompressionStream's 'deflate' too.
  let body: ReadableStream<Uint8Array> = response.body;
  for (const each of codings) body = body.pipeThrough(new DecompressionStream(each));
  const decoded = new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  // A Response made here has no URL of its own: the one fetch's had, as it says after a redirect.
  Object.defineProperties(decoded, {
    url: { value: response.url },
    redirected: { value: response.redirected },
  });
  return decoded;
}
