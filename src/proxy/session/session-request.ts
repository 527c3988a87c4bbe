import {
  type AnswerSink,
  type DownstreamExchange,
  type DownstreamHead,
  type FieldMap,
  fieldMap,
} from '../../core/net/downstream.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { RequestSpans } from '../../observe/tracing/spans.ts';
import { withForwardedCertificate } from '../accept/forwarded-certificate.ts';
import type { ListenerFacts } from '../accept/request-handlers.ts';
import { addressedFields } from '../route/request-target.ts';
import { recordOf, serverSpanOf } from './record-of.ts';
import { servedListener } from './request-scheme.ts';
import type { Runtime } from './runtime.ts';

/**
 * The request a session runs, as every phase after accept reads it: made once by the session
 * (request-session.ts) and handed as it is to the attempts, which read it
 * and report what happened through their owner's calls (attempts-owner.ts), never through it.
 */
export interface SessionRequest {
  readonly runtime: Runtime;
  readonly listener: ListenerFacts;
  readonly exchange: DownstreamExchange;
  /**
   * The exchange's head, with the client certificate a trusted proxy forwarded where its listener
   * takes one so (forwarded-certificate.ts): every phase reads the certificate here.
   */
  readonly head: DownstreamHead;
  /** The head's fields by lowercase name (made once: routing, limits and the record read them). */
  readonly fields: FieldMap;
  readonly answer: AnswerSink;
  readonly record: RequestRecord;
  /** The request's spans; undefined when tracing is off. */
  readonly spans: RequestSpans | undefined;
}

/** The request as the session's phases read it, made from what its server parsed. */
export function sessionRequestOf(
  runtime: Runtime,
  listener: ListenerFacts,
  exchange: DownstreamExchange,
): SessionRequest {
  const { answer } = exchange;
  const fields = addressedFields(fieldMap(exchange.head.headers), exchange.head.target);
  const record = recordOf(exchange.head, fields, runtime.trust, runtime.config.limits.uriLength);
  // A request the gateway made itself: its line and span say so, and for whose request (no client sent it).
  if (exchange.background !== undefined) {
    record.background = exchange.background.kind;
    record.backgroundFor = exchange.background.madeFor;
  }
  const head = withForwardedCertificate(listener, exchange.head, record.clientAddress, fields, runtime.trust);
  const served = servedListener(listener, record.clientAddress, fields, runtime.trust);
  const spans = serverSpanOf(runtime, record, head, fields, served.protocol);
  return { runtime, listener: served, exchange, head, fields, answer, record, spans };
}
