import type {
  DownstreamExchange,
  DownstreamHead,
  FieldMap,
  ResponseSink,
} from '../../core/net/downstream.ts';
import { forwardedClient } from '../../core/net/trust.ts';
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { RequestSpans } from '../../observe/tracing/spans.ts';
import type { ListenerFacts } from '../accept/request-handlers.ts';
import type { TemplateVars } from '../forward/header-rules.ts';
import { hostnameOf } from '../route/request-target.ts';
import type { Runtime } from './runtime.ts';

/**
 * The request a session runs, as every phase after accept reads it: made once by the session
 * (request-session.ts) and handed as it is to the attempts and the route's cache, which read it
 * and report what happened through their owner's calls (attempts-owner.ts), never through it.
 */
export interface SessionRequest {
  readonly runtime: Runtime;
  readonly listener: ListenerFacts;
  readonly exchange: DownstreamExchange;
  readonly head: DownstreamHead;
  /** The head's fields by lowercase name (made once: routing, limits and the record read them). */
  readonly fields: FieldMap;
  readonly response: ResponseSink;
  readonly record: RequestRecord;
  /** The request's spans; undefined when tracing is off. */
  readonly spans: RequestSpans | undefined;
}

/**
 * What a route's header rules' {variables} stand for in this request. `{client_ip}` is the
 * client allow/deny and rate limits judge: behind proxies in `trust_forwarded_from`, the one
 * they vouch for (as nginx's realip makes `$remote_addr`), so `set: { X-Real-IP: "{client_ip}" }`
 * names the user, not the load balancer. Made only for a route with header rules.
 */
export function templateVarsOf(req: SessionRequest): TemplateVars {
  const { record, fields, runtime } = req;
  return {
    requestId: record.id,
    clientIp: forwardedClient(record.clientAddress, fields, runtime.trust),
    host: hostnameOf(record.host),
  };
}
