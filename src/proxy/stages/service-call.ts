/**
 * A call a stage makes to a service of its own through the one attempt loop (session/auth-call.ts
 * runs it, as a client's request runs: the upstream's pool, circuit, timeouts, retry rule and
 * budget): forward auth's GET to its auth service, a plugin's `context.fetch`.
 */
import type { RouteConfig } from '../../core/config/types.ts';
import type { TraceContext } from '../../core/ids/traceparent.ts';
import type { ClientCertificate } from '../../core/net/client-certificate.ts';
import type { HopTriesHolder } from '../../observe/log/request-record.ts';
import type { RequestSpans } from '../../observe/tracing/spans.ts';

/** The request the service gets, for one client's request (an auth service's GET by default). */
export interface ServiceCall {
  /** The path and query asked. */
  readonly path: string;
  /** The client's fields the service asked for, and the proxies' words: flat, lower-case names, no hop-by-hop. */
  readonly headers: readonly string[];
  /**
   * X-Forwarded-Method and -Uri, flat: the gateway's own words, added after the client's fields
   * are sifted as any request's (a client's X-Forwarded-* goes only from a trusted proxy).
   */
  readonly own: readonly string[];
  /** Milliseconds for the whole call, every attempt and backoff included. */
  readonly deadline: number;
  /** The route the request is for (its retry rule and limits). */
  readonly route: RouteConfig;
  /** The hop as the call's spans name it (`candor.hop`): `auth:NAME`, `plugin:NAME`. */
  readonly hop: string;
  /** The client's request, whose facts the hop writes as for any request (X-Forwarded-For, -Host, -Proto, X-Request-Id). */
  readonly client: {
    readonly requestId: string;
    readonly address: string;
    readonly host: string;
    readonly protocol: string;
    readonly trace: TraceContext;
    /** The request's spans (undefined when tracing is off, or for a call outside any request): each attempt's span is their server span's child. */
    readonly spans?: RequestSpans;
    /**
     * The certificate the client's connection presented, where its listener asks for one: the
     * service is told a verified one as the upstream is (RFC 9440's Client-Cert), and the client's
     * own copies of such fields are dropped. A plugin's fetch carries none.
     */
    readonly clientCertificate?: ClientCertificate;
    /**
     * The request's log line's list of its calls' attempts (RequestRecord.hopTries): a call that
     * retried adds each of its attempts to it (none for a call outside any request).
     */
    readonly hopTriesOf?: HopTriesHolder;
  };
  /** Default GET (a method that is not idempotent is retried only where it never reached the service). */
  readonly method?: string;
  /** Sent whole by every attempt. */
  readonly body?: Buffer;
}

/** The service's answer: its head as the gateway's head builder passed it on, its body (bounded: session/auth-call.ts). */
export interface ServiceAnswer {
  readonly status: number;
  /** Flat [name, value, …]: the service's fields, hop-by-hop ones out, Via and X-Request-Id in (answer-headers.ts). */
  readonly headers: readonly string[];
  readonly body: Buffer;
  /** The body is the first bytes of a longer one: a 2xx past the bound, told as it stands (auth-call.ts). */
  readonly cut: boolean;
}
