/**
 * A plugin's call to a service of its own (`context.fetch(upstream, path)`): through that upstream
 * of the config by the one attempt loop, as an auth hop's call goes (session/auth-call.ts: the
 * upstream's pool, timeouts, circuit, retry rule and budget). Its failure is the classified
 * Failure of that hop (502 refused or reset, 504 slow, 503 circuit open, `next-hop` naming the
 * upstream): a plugin that lets it out of onRequest has the request answered as that hop's
 * failure, never a 500 for a dependency's outage.
 */
import { reservedHeaderProblem } from '../../core/config/routing-values.ts';
import type { RouteConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { newRequestId } from '../../core/ids/ids.ts';
import { continueOrStartTrace } from '../../core/ids/traceparent.ts';
import { shownAs } from '../../proxy/admit/auth-hop.ts';
import { askAuthService } from '../../proxy/session/auth-call.ts';
import type { Runtime } from '../../proxy/session/runtime.ts';
import { checkedFieldValue, checkedHeadBytes, headBytes } from '../../proxy/stages/plugin-answer.ts';
import type { FetchedResponse, PluginFetchInit } from '../../proxy/stages/plugin-api.ts';
import { PluginRequestView } from '../../proxy/stages/plugin-request.ts';

/**
 * A call's deadline when the plugin gives none: its own `timeout`, less a tenth of it (100 ms at
 * most). A hook that awaits a silent service would otherwise have two bounds ending at once, the
 * call's and its own, and whichever timer ran first told the client: the service's 504 (what
 * happened) or, now and then, the plugin's 500 "overran" for a wait that was the service's.
 */
function defaultCallTimeout(pluginTimeoutMs: number): number {
  return pluginTimeoutMs - Math.min(100, pluginTimeoutMs / 10);
}

/** Statuses whose Response has no body (the Response constructor refuses one). */
const NO_BODY = new Set([204, 205, 304]);

/** `plugin` names the plugin that calls (its spans' `candor.hop`, `plugin:NAME`). */
export async function pluginFetch(
  runtime: Runtime,
  plugin: string,
  upstreamName: string,
  path: string,
  init: PluginFetchInit = {},
  timeoutMs: number,
): Promise<FetchedResponse> {
  const upstream = runtime.upstreams.get(upstreamName);
  // The plugin's bug (a name the config does not have): a 500 naming it, not a hop's failure.
  if (upstream === undefined) throw new Error(`fetch: no upstream named '${upstreamName}' in the config`);
  if (!path.startsWith('/'))
    throw new Error(`fetch: the path must start with "/", got ${JSON.stringify(path)}`);
  // CR LF in it (a query parameter the plugin decoded) would write fields of the client's choosing
  // into the service's request head: a request target is visible ASCII (RFC 9112 §3.2).
  if (!TARGET.test(path))
    throw new Error(
      `fetch: the path must be a request target (no space, control or non-ASCII character: percent-encode them), got ${JSON.stringify(path)}`,
    );
  const timeout = init.timeout ?? defaultCallTimeout(timeoutMs);
  // Its slip, never the service's 504 (a deadline already past).
  if (typeof timeout !== 'number' || !(timeout > 0) || !Number.isFinite(timeout))
    throw new Error(`fetch: timeout must be a positive number of milliseconds, got ${String(timeout)}`);
  const method = init.method === undefined ? 'GET' : init.method.toUpperCase();
  if (!TOKEN.test(method)) throw new Error(`fetch: ${JSON.stringify(init.method)} is no method`);
  const body = bodyOf(init.body);
  const headers: string[] = [];
  const given = new Headers(init.headers);
  for (const [name, value] of given)
    if (reservedHeaderProblem(name) === undefined) headers.push(name, checkedFieldValue(name, value));
  checkedHeadBytes(0, headBytes(given));
  const from = init.request instanceof PluginRequestView ? init.request.stageRequest : undefined;
  const route = from === undefined ? undefined : runtime.config.routes.find((r) => r.name === from.route);
  // The client's tracestate goes with its trace, as to the upstream: the head builder keeps it
  // for a continued trace only (a plugin cannot set it: it is the gateway's field).
  const state = from?.fields.tracestate;
  if (typeof state === 'string') headers.push('tracestate', state);
  const answer = await askAuthService(runtime, upstream, {
    method,
    body,
    path,
    headers,
    own: [],
    deadline: timeout,
    route: route ?? ownRoute(upstreamName),
    hop: `plugin:${plugin}`,
    client:
      from === undefined
        ? {
            requestId: newRequestId(),
            address: '127.0.0.1',
            host: upstreamName,
            protocol: 'http',
            trace: continueOrStartTrace(undefined),
          }
        : {
            requestId: from.record.id,
            address: from.record.clientAddress,
            host: from.record.host,
            protocol: from.head.encrypted ? 'https' : 'http',
            trace: from.record.trace,
            spans: from.spans,
            hopTriesOf: from.record,
          },
    // The hop's failure names the hop (not the route's upstream, which the request never reached).
  }).catch((err: unknown) => {
    throw err instanceof Failure ? shownAs(err, upstreamName) : err;
  });
  const fields = new Headers();
  for (let i = 0; i < answer.headers.length; i += 2)
    try {
      fields.append(answer.headers[i], answer.headers[i + 1]);
    } catch {}
  // A cut body is shorter than the service's Content-Length said: the plugin reads no length its body does not have.
  if (answer.cut) fields.delete('content-length');
  const read = NO_BODY.has(answer.status) ? null : new Uint8Array(answer.body);
  return fetchedAnswer(new Response(read, { status: answer.status, headers: fields }), answer.cut);
}

/**
 * The Response a plugin's fetch resolves with, saying whether its body came cut (plugin-api.ts's
 * FetchedResponse). A property on the Response, not a subclass: `class … extends Response` at a
 * module's top reads the global `Response`, which loads undici, node:http and node:http2 into
 * every worker that imports this module (some 5 MiB), plugins or none.
 */
function fetchedAnswer(response: Response, cut: boolean): FetchedResponse {
  return Object.defineProperty(response, 'cut', { value: cut, enumerable: true }) as FetchedResponse;
}

/** A request target in origin form: visible ASCII only. */
const TARGET = /^\/[\x21-\x7e]*$/;

/** A method is a token (RFC 9110 §9.1); CONNECT and an upgrade are no call's. */
const TOKEN = /^(?!CONNECT$)[!#$%&'*+\-.^_`|~0-9A-Z]+$/;

/** The call's body as bytes: a string as UTF-8; a Uint8Array copied (the plugin may go on writing into its own). */
function bodyOf(body: PluginFetchInit['body']): Buffer | undefined {
  if (body === undefined) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  throw new Error('fetch: body must be a string or a Uint8Array');
}

/** The route a call made outside any request goes by: the upstream's own rules, no limits of a client's. */
function ownRoute(upstream: string): RouteConfig {
  return {
    index: -1,
    name: `plugin-call:${upstream}`,
    path: '/',
    upstream,
    stripPrefix: false,
    allowEncodedSlashes: false,
    limits: { body: 0, buffer: 0 },
    requestBuffering: false,
    retryIdempotencyKey: false,
  };
}
