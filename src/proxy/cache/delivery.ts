import type { CompressionConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { DownstreamHead, FieldMap } from '../../core/net/downstream.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import { withVary } from '../forward/coded-fields.ts';
import { CompressingSink } from '../forward/compressing-sink.ts';
import { partForCodedCopy } from '../forward/content-coding.ts';
import { withoutRange } from '../forward/request-headers.ts';
import type { AnswerOut, StageAnswer } from '../stages/stage.ts';
import { emptyAnswerFields, notModified, notModifiedFields, preconditionFailed } from './conditional-hit.ts';
import type { StoredAnswer } from './stored-answer.ts';
import { type StoredPart, storedPart } from './stored-range.ts';

/** The request a stored answer is given to, as the cache stage read it. */
export interface DeliveredTo {
  readonly head: DownstreamHead;
  readonly fields: FieldMap;
  readonly record: RequestRecord;
  /** A background refresh's answer goes to nobody: not compressed. */
  readonly background: boolean;
}

/**
 * The delivery of a stored answer to a client (a hit, a stale answer, a revalidated one), with this
 * hop's fields, `proxyStatus` when it stands in for a failure, and `cookies` (flat Set-Cookie
 * fields) the 304 that revalidated it set for this client: the answer as stored, or a 304 when it
 * is a 200 and the client's own validators match it (conditional-hit.ts). The store keeps the
 * identity body: `compression` applies to it as to a fetched one.
 */
export function deliveryOf(
  asked: DeliveredTo,
  compression: CompressionConfig | undefined,
  stored: StoredAnswer,
  proxyStatus: string | undefined,
  cookies: readonly string[] = [],
): StageAnswer {
  return { send: (out) => sendStored(out, asked, compression, stored, proxyStatus, cookies) };
}

function sendStored(
  out: AnswerOut,
  asked: DeliveredTo,
  compression: CompressionConfig | undefined,
  stored: StoredAnswer,
  proxyStatus: string | undefined,
  cookies: readonly string[],
): void {
  const { head, record, fields } = asked;
  const answer = out.sink;
  // The Set-Cookie of the 304 that revalidated it is this client's alone: never stored, sent here.
  const kept = cookies.length === 0 ? stored.fields() : [...stored.fields(), ...cookies];
  // A part the client may splice into a compressed copy: the whole answer goes instead, judged
  // as one to a request without a Range (content-coding.ts's partForCodedCopy).
  const whole = compression !== undefined && partForCodedCopy(head.headers, stored.status, kept, compression);
  const sink =
    compression === undefined || asked.background
      ? answer
      : new CompressingSink(
          answer,
          compression,
          whole ? { ...head, headers: withoutRange(head.headers) } : head,
          record,
          out.budget,
        );
  // The client's preconditions, then its range (RFC 9110 §13.2.2): a 412, a 304, a part of a 200.
  const failed = stored.status >= 200 && stored.status < 300 && preconditionFailed(fields, kept);
  const unchanged = !failed && stored.status === 200 && notModified(fields, kept);
  const made = failed
    ? preconditionFailedOf(kept)
    : whole
      ? undefined
      : partOf(asked, stored, kept, unchanged);
  out.responded(made?.status ?? (unchanged ? 304 : stored.status));
  // The version the upstream answered in, as for a fetched answer (RFC 9110 §7.6.3).
  const headers = out.head(
    made?.fields ?? (unchanged ? notModifiedFields(kept) : kept),
    stored.version,
    proxyStatus,
  );
  // Head, body and end leave in one write, with the turn's other answers (turn-end.ts), as a
  // small proxied answer does: written apiece, a hit cost three writes to the socket.
  answer.deferToTurnEnd();
  const { close } = out;
  try {
    // Never compressed: a 412 or a 416 has no body, a 206's Content-Range counts the stored bytes.
    // Vary says so, as it does of the route's every answer (a fetched 206's too).
    if (made !== undefined)
      answer.sendHead(
        made.status,
        made.reason,
        compression === undefined ? headers : withVary(headers),
        close,
      );
    else if (!unchanged) sink.sendHead(stored.status, stored.reason, headers, close);
    // A compressing route's 304 has the ETag its 200 would have had: weak if that went compressed.
    else if (sink instanceof CompressingSink) sink.sendNotModified(kept, headers, close);
    else sink.sendHead(304, 'Not Modified', headers, close);
  } catch (err) {
    // A head the client cannot take (an HTTP/2 client's header list size): the gateway's answer says so.
    if (err instanceof Failure) return out.refused(err);
    throw err;
  }
  if (made !== undefined) {
    if (made.body !== undefined && head.method !== 'HEAD') answer.write(made.body);
    return answer.end();
  }
  if (!unchanged && head.method !== 'HEAD') sink.write(stored.body);
  sink.end();
}

/** The 412 of a stored answer the client's If-Match or If-Unmodified-Since fails. */
function preconditionFailedOf(kept: readonly string[]): StoredPart {
  return { status: 412, reason: 'Precondition Failed', fields: emptyAnswerFields(kept), body: undefined };
}

/**
 * The part of a stored 200 a GET's Range asks for (stored-range.ts), when no 304 answers it first.
 * If-Match and If-Unmodified-Since meet only a stale answer standing in for a failed upstream, or
 * one given to only-if-cached: otherwise they go upstream (cache-request.ts's bypassesStore).
 */
function partOf(
  asked: DeliveredTo,
  stored: StoredAnswer,
  kept: readonly string[],
  unchanged: boolean,
): StoredPart | undefined {
  if (unchanged || stored.status !== 200 || asked.head.method !== 'GET') return undefined;
  return storedPart(asked.fields, kept, stored.body);
}
