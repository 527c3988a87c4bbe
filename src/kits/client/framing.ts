/**
 * A response's Transfer-Encoding, read as the gateway's own parser reads it (answer-rules.ts:
 * `chunked` last and once, and under it only codings zlib undoes). fetch reads any such body and
 * undoes none of its transfer codings but chunked:
 * - one the gateway refuses is garbage, `http_response_transfer_coding`: `gzip` alone was read
 *   until the close and handed over still compressed, as if plain; `identity` or `chunked,
 *   chunked` as if valid. The client calls each what the gateway calls it, never a 200;
 * - one it takes (`gzip, chunked`, `deflate, chunked`) is undone here, as the gateway undoes it:
 *   fetch gave the compressed bytes as the body; a body that does not undo is garbage too.
 */
import { transferCodings } from '../../core/http1/answer-rules.ts';

/** The code classify-fetch.ts reads as the garbage shape, `http_response_transfer_coding`. */
export const REFUSED_TRANSFER_CODING = 'ERR_CANDOR_TRANSFER_CODING';

/**
 * The code classify-fetch.ts reads as `http_protocol_error`: a status code past 599, which fetch
 * takes (its Response then is one no Response constructor may make) and the gateway's parser
 * refuses (status-line.ts). RFC 9110 §15 has none; told garbage, never a RangeError of the client's.
 */
export const REFUSED_STATUS = 'ERR_CANDOR_STATUS_CODE';

/**
 * The code classify-fetch.ts reads as `http_protocol_error`: a status line naming an HTTP version
 * other than 1.x (RFC 9112 §2.3: an HTTP/1 connection carries HTTP/1 messages; HTTP/2 is never
 * text, HTTP/0.9 had no status line), which fetch reads as HTTP/1 and the gateway's parser refuses
 * (status-line.ts).
 */
export const REFUSED_VERSION = 'ERR_CANDOR_HTTP_VERSION';

/**
 * The response with its transfer codings undone, or fetch's kind of failure ("fetch failed", the
 * reason as cause) for one whose framing, status code or HTTP version (`version`, its status
 * line's, where known) the gateway refuses, its body cancelled. A response
 * without a body (to a HEAD, a 204, a 304) has nothing to frame, whatever its fields say.
 */
export function readFraming(answer: Response, method: string, version?: string): Response | TypeError {
  if (version !== undefined && !version.startsWith('1.')) {
    answer.body?.cancel().catch(() => {});
    const cause = Object.assign(new Error(`unsupported HTTP version "HTTP/${version}"`), {
      code: REFUSED_VERSION,
    });
    return new TypeError('fetch failed', { cause });
  }
  if (answer.status > 599) {
    answer.body?.cancel().catch(() => {});
    const cause = Object.assign(new Error(`status code ${answer.status} out of range`), {
      code: REFUSED_STATUS,
    });
    return new TypeError('fetch failed', { cause });
  }
  const coding = answer.headers.get('transfer-encoding');
  if (coding === null || method === 'HEAD' || answer.status === 204 || answer.status === 304) return answer;
  const codings = transferCodings(coding);
  if (typeof codings === 'string') {
    answer.body?.cancel().catch(() => {});
    const cause = Object.assign(new Error(codings), { code: REFUSED_TRANSFER_CODING });
    return new TypeError('fetch failed', { cause });
  }
  if (codings.length === 0 || answer.body === null) return answer;
  // fetch's own error passes through the decoders as it is: any other is theirs.
  let fetchError: unknown;
  const read = answer.body.getReader();
  let body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await read.read().catch((err: unknown) => {
          fetchError = err;
          throw err;
        });
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      cancel: (reason) => read.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  // HTTP's deflate is the zlib format, DecompressionStream's 'deflate' too.
  for (const each of codings) body = body.pipeThrough(new DecompressionStream(each));
  const decoded = body.getReader();
  return withBody(
    answer,
    new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const next = await decoded.read().catch((err: unknown) => {
            throw err === fetchError ? err : undecodable(codings.join(', '), err);
          });
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        },
        cancel: (reason) => decoded.cancel(reason),
      },
      { highWaterMark: 0 },
    ),
  );
}

/**
 * A body that does not undo as its transfer coding says: garbage, `http_response_transfer_coding`,
 * as the gateway's decoder calls it (transfer-decoder.ts), in fetch's shape for a body that broke.
 */
function undecodable(coding: string, err: unknown): TypeError {
  // node:zlib's error under DecompressionStream may say only its code (Z_DATA_ERROR).
  const why = (err as Error | null)?.message || String((err as { code?: unknown } | null)?.code ?? err);
  const cause = Object.assign(new Error(`invalid ${coding} transfer coding: ${why}`), {
    code: REFUSED_TRANSFER_CODING,
    cause: err,
  });
  return new TypeError('terminated', { cause });
}

/** `answer` with another body: its status, fields, URL and `redirected` as fetch gave them. */
export function withBody(answer: Response, body: ReadableStream<Uint8Array>): Response {
  const made = new Response(body, {
    status: answer.status,
    statusText: answer.statusText,
    headers: answer.headers,
  });
  // A Response made here has no URL of its own: the one fetch's had, as it says after a redirect.
  Object.defineProperties(made, {
    url: { value: answer.url },
    redirected: { value: answer.redirected },
  });
  return made;
}
