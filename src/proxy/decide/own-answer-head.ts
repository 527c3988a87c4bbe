/**
 * The head of an answer the gateway makes itself (a redirect, a preflight, a static file, a
 * service's refusal passed on), as the session writes it.
 */

import type { Failure } from '../../core/failure/failure.ts';
import { failureProxyStatus } from '../../core/failure/proxy-status.ts';
import { withSfMember } from '../../core/failure/structured-field.ts';
import { isStorageField } from '../../core/http1/storage-fields.ts';
import { type AnswerEdit, OwnAnswer, RefusalAnswer, StreamedAnswer } from '../../core/net/own-answer.ts';
import { keptOwn } from './error-answer.ts';

/**
 * A service's own refusal (an auth service's 401, its 403, its redirect to a login page), passed
 * to the client as it wrote it, body included; `refusal` is what the request's record keeps of it, and
 * what a gRPC client is answered (a gateway-made Trailers-Only UNAUTHENTICATED or PERMISSION_DENIED).
 */
export class PassedOnAnswer extends OwnAnswer {
  readonly refusal: Failure;

  constructor(status: number, headers: readonly string[], body: Buffer, refusal: Failure) {
    super(status, headers, body);
    this.refusal = refusal;
  }
}

/**
 * The fields the gateway answers `answer` with: a refusal passed on gets this gateway's
 * Proxy-Status member (its http_request_denied, without details under `errors.detail: minimal`)
 * after the service's own when that is a List (else in its place), as every access refusal
 * carries one: a client tells the gateway's refusal from the upstream's own 401.
 */
export function ownFields(
  answer: OwnAnswer,
  gateway: { readonly name: string; readonly config: { readonly errors: { readonly detail: string } } },
): readonly string[] {
  if (!(answer instanceof PassedOnAnswer)) return answer.headers;
  const member = failureProxyStatus(
    gateway.name,
    answer.refusal,
    undefined,
    gateway.config.errors.detail === 'minimal',
  );
  return withSfMember(answer.headers, 'proxy-status', member);
}

/**
 * The head of an answer the gateway makes itself: its fields (ownFields), its length (RFC 9110
 * §8.6: none on a 204), the request id, `Connection: close` when the client's body is left unread,
 * then the route's stages' edit; a refusal passed on keeps its own fields whatever a rule says,
 * and a RefusalAnswer (a 412, a 416) its fields of storage.
 */
export function ownAnswerHead(
  answer: OwnAnswer,
  gateway: Parameters<typeof ownFields>[1],
  requestId: string,
  close: boolean,
  edit: AnswerEdit | undefined,
): string[] {
  // A 304 tells no length (the sink frames it as bodiless): its 200's would be its file's.
  const size = answer instanceof StreamedAnswer ? answer.length : answer.body.length;
  const length = answer.status === 204 || answer.status === 304 ? [] : ['content-length', String(size)];
  const headers = [...ownFields(answer, gateway), ...length, 'x-request-id', requestId];
  if (close) headers.push('connection', 'close');
  if (edit === undefined) return headers;
  if (answer instanceof PassedOnAnswer) return keptOwn(edit(headers), headers);
  return answer instanceof RefusalAnswer ? keptOwn(edit(headers), headers, isStorageField) : edit(headers);
}
