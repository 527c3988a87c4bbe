import type { Failure } from '../../core/failure/failure.ts';
import type {
  DownstreamExchange,
  DownstreamHead,
  FieldMap,
  ResponseSink,
} from '../../core/net/downstream.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { RequestSpans } from '../../observe/tracing/spans.ts';
import type { ListenerFacts } from '../accept/listener.ts';
import type { HeaderEdit, TemplateVars } from '../forward/header-rules.ts';
import type { Runtime } from './runtime.ts';

/**
 * The request an Attempts runs for, and what it reports back to it (AttemptsOwner is one):
 * the attempts never reach further up than this.
 */
export interface AttemptsOwner {
  readonly runtime: Runtime;
  readonly listener: ListenerFacts;
  readonly exchange: DownstreamExchange;
  readonly head: DownstreamHead;
  /** The head's fields by lowercase name. */
  readonly fields: FieldMap;
  readonly response: ResponseSink;
  readonly record: RequestRecord;
  readonly spans: RequestSpans | undefined;
  /** The upstream's head went downstream with this status. */
  responded(status: number): void;
  /** The failure the request ended with, for the log. */
  failed(failure: Failure): void;
  /** The client went away before the exchange was over. */
  clientLeft(): void;
  /** The upstream switched protocols and the tunnel is up. */
  tunnelled(status: number): void;
  /** The sink refused to write a head the upstream sent: the connection closes after the answer. */
  responseSpent(): void;
  /** No attempt answered: the gateway's error response for this failure. */
  answer(failure: Failure): void;
  /** The name clients may see for the next hop. */
  nextHop(): string | undefined;
  /** What a route's header rules fill in for `{request_id}`, `{client_ip}` and `{host}`. */
  templateVars(): TemplateVars;
  /** The route's response header rules for this request; undefined when it has none. */
  responseEdit(): HeaderEdit | undefined;
  /** Runs a request the gateway makes itself (a stored answer's refresh) as a session of its own, on this one's runtime and listener. */
  background(exchange: DownstreamExchange): void;
}
