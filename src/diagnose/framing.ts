/**
 * How the body of a response is delimited (RFC 9112 §6.3), judged as the gateway judges it:
 * Content-Length beside Transfer-Encoding, two different lengths, or a transfer coding other
 * than chunked are framing failures.
 */
import { Failure } from '../failure/failure.ts';
import { fieldValues, type ResponseHead } from './http-head.ts';
import type { BodyFraming } from './types.ts';

export type Framing =
  | { readonly kind: BodyFraming; readonly length?: number; readonly failure?: undefined }
  | { readonly kind?: undefined; readonly failure: Failure };

const stage = { stage: 'head_received' } as const;

export function decideFraming(head: ResponseHead, method: string): Framing {
  const encodings = fieldValues(head, 'transfer-encoding');
  const lengths = fieldValues(head, 'content-length');
  const noBody = method === 'HEAD' || head.status === 204 || head.status === 304 || head.status < 200;
  if (encodings.length > 0 && lengths.length > 0 && !noBody)
    return fail('http_response_transfer_coding', 'Content-Length and Transfer-Encoding together');
  const values = lengths.flatMap((value) => value.split(',')).map((value) => value.trim());
  const invalid = values.find((value) => !/^\d+$/.test(value));
  if (invalid !== undefined)
    return fail('http_response_content_length', `invalid Content-Length "${invalid}"`);
  const distinct = [...new Set(values.map(Number))];
  // undici reports two different lengths as conflicting framing, so the gateway does too.
  if (distinct.length > 1)
    return fail(
      'http_response_transfer_coding',
      `conflicting Content-Length values (${distinct.join(', ')})`,
    );
  if (noBody) return { kind: 'none' };
  if (encodings.length > 0) {
    const codings = encodings
      .join(',')
      .split(',')
      .map((c) => c.trim().toLowerCase())
      .filter(Boolean);
    if (codings.length !== 1 || codings[0] !== 'chunked')
      return fail('http_response_transfer_coding', `unsupported transfer coding "${encodings.join(', ')}"`);
    return { kind: 'chunked' };
  }
  if (distinct.length === 1) return { kind: 'content-length', length: distinct[0] };
  return { kind: 'close-delimited' };
}

function fail(
  type: 'http_response_transfer_coding' | 'http_response_content_length',
  details: string,
): Framing {
  return { failure: new Failure(type, `invalid response framing: ${details}`, stage) };
}
