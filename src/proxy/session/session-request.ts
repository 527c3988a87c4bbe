import type { AnswerSink, DownstreamExchange, DownstreamHead, FieldMap } from '../../core/net/downstream.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { RequestSpans } from '../../observe/tracing/spans.ts';
import type { ListenerFacts } from '../accept/request-handlers.ts';
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
  readonly head: DownstreamHead;
  /** The head's fields by lowercase name (made once: routing, limits and the record read them). */
  readonly fields: FieldMap;
  readonly answer: AnswerSink;
  readonly record: RequestRecord;
  /** The request's spans; undefined when tracing is off. */
  readonly spans: RequestSpans | undefined;
}
