/**
 * The plugin API (docs/plugins.md), in the Web platform's words (`Headers`, `Response`,
 * `URLSearchParams`), exported from `candor` as `Plugin` and its parts. A plugin is a stage a user
 * wrote (stage.ts): plugin-stage.ts turns its hooks into the contract's, so that whatever a
 * plugin does it cannot make the gateway lie.
 */

/** What a `Headers` is made from: a `Headers`, a record, or [name, value] pairs. */
export type PluginHeadersInit = ConstructorParameters<typeof Headers>[0];

/** What a plugin reads of one request, and (through `headers`) what it changes of what goes upstream. */
export interface PluginRequest {
  readonly method: string;
  /** The path the upstream receives (normalised, rewritten by the route), without its query. */
  readonly path: string;
  readonly query: URLSearchParams;
  /**
   * The request's fields. What onRequest sets or deletes here is what goes upstream; the fields
   * Candor writes itself (the request id, Via, X-Forwarded-*, hop-by-hop ones) are out of reach.
   */
  readonly headers: Headers;
  /** The client's address (the connection's peer: a trusted proxy's client is in X-Forwarded-For, which `headers` has only from a proxy in `trust_forwarded_from`). */
  readonly client: { readonly address: string };
  /** The route's name. */
  readonly route: string;
  /** Who the route's authentication admitted (the log's `user`); undefined on a route without, or when it names nobody (docs/plugins.md). */
  readonly identity: string | undefined;
  /** The request id (X-Request-Id), as the log line and the error bodies give it. */
  readonly id: string;
  /**
   * Undefined for a client's request; for one the route's cache made itself, which no client sent,
   * what it is, as the log line's `background` says: `fill` (the whole answer a `Range` found
   * nothing stored of) or `refresh` (a stale answer's stale-while-revalidate refresh). It meets
   * the route's plugins as the client's request did (what they write upstream goes with it):
   * a plugin that counts or bills clients' requests leaves these out.
   */
  readonly background: string | undefined;
  /** A logger whose lines carry the plugin's name and this request's id. */
  readonly log: PluginLogger;
  /**
   * The whole request body as bytes (empty for a request without one), read once for every
   * plugin of the route and sent upstream as it came. Bounded by `limit` (bytes) and the route's
   * `limits.buffer`, the smaller: a body past it rejects with the client's 413 (an announced
   * length at once), a client too slow with its 408; let the rejection out of onRequest and it is
   * the request's answer. Its wait for the client is not counted in the plugin's `timeout`.
   */
  body(options?: PluginBodyOptions): Promise<Uint8Array>;
}

/** How much of the request body a plugin reads. */
export interface PluginBodyOptions {
  /** Bytes at most (default and ceiling: the route's `limits.buffer`). */
  readonly limit?: number;
}

/** The head of an upstream's answer: what onResponse sets or deletes in `headers` is what the client gets. */
export interface PluginResponse {
  readonly status: number;
  readonly headers: Headers;
}

/** A plugin's own answer to a request: a WHATWG Response, or its parts. */
export type PluginAnswer =
  | Response
  | { readonly status: number; readonly headers?: PluginHeadersInit; readonly body?: string | Uint8Array };

/** What a request's log line says of it, as a plugin's onEnd reads it. */
export interface PluginRecord {
  readonly id: string;
  readonly route: string | undefined;
  readonly method: string;
  readonly path: string;
  /** The status the client got (0: none, the client left first). */
  readonly status: number;
  /** The RFC 9209 error type the request failed with, if it did. */
  readonly error: string | undefined;
  readonly upstream: string | undefined;
  /** Milliseconds from the request's first byte. */
  readonly ms: number;
  /** As `PluginRequest.background`: undefined for a client's request, `fill` or `refresh` for the cache's own. */
  readonly background: string | undefined;
  /** With `background`: the id of the client's request it was made for (the log line's `for_req_id`). */
  readonly forRequestId: string | undefined;
}

type MaybePromise<T> = T | Promise<T>;

/** A plugin's hooks: any of them, each sync or async (docs/plugins.md). */
export interface PluginHooks {
  /** Go on (return nothing), or answer the request yourself. A thrown `Failure` of a fetch is that hop's failure. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook that returns nothing (void) goes on
  onRequest?(request: PluginRequest): MaybePromise<PluginAnswer | undefined | void>;
  /**
   * The upstream's answer's head, for an upstream's answer only (never the gateway's own error).
   * A promise holds the answer (nothing goes to the client) until it resolves, within `timeout`.
   */
  onResponse?(response: PluginResponse, request: PluginRequest): MaybePromise<void>;
  /** The request is over: count it. */
  onEnd?(record: PluginRecord): MaybePromise<void>;
  /** The config that made this instance was replaced: end what it holds (a bounded time is given). */
  close?(): MaybePromise<void>;
}

export interface PluginLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A plugin's own metrics: `candor_plugin_events_total` and `candor_plugin_observed` with its name as `plugin`. */
export interface PluginMetrics {
  /** Counts `by` (1) under `name` (and `label`, a value of a bounded set: a tenant, a variant). */
  count(name: string, label?: string, by?: number): void;
  /** Observes a value (seconds, bytes) under `name`, into a histogram. */
  observe(name: string, value: number, label?: string): void;
}

/** What fetch takes beyond the path: a method, fields, a body, its own deadline, the request it is for. */
export interface PluginFetchInit {
  /** Default GET. A method that is not idempotent (POST, PATCH) is retried only where it never reached the service. */
  readonly method?: string;
  readonly headers?: PluginHeadersInit;
  /** Sent whole, with its Content-Length (a string as UTF-8). */
  readonly body?: string | Uint8Array;
  /** Milliseconds for the whole call (every attempt); default: the plugin's `timeout` less a tenth of it (100 ms at most), so a silent service's 504 comes before the hook's own bound. */
  readonly timeout?: number;
  /** The client's request this call is for: its id and trace go with the call. */
  readonly request?: PluginRequest;
}

/**
 * What `context.fetch` resolves with: a WHATWG Response, and whether its body came cut. A 2xx
 * longer than 64 KiB comes cut there (`cut`: true, no `Content-Length`, the body its first 65536
 * bytes); any other answer that long is the hop's failure.
 */
export interface FetchedResponse extends Response {
  readonly cut: boolean;
}

/** What a plugin is given once per config load. */
export interface PluginContext {
  /** The plugin's name in the config. */
  readonly name: string;
  readonly log: PluginLogger;
  readonly metrics: PluginMetrics;
  /**
   * Asks an upstream of the config (its pools, timeouts, circuit, retry rule and budget), as an
   * auth hop asks its service: a GET, or `init.method` with `init.body` sent whole. Rejects with that hop's failure (502, 504 or 503 by its shape,
   * `next-hop` naming the upstream): rethrown from onRequest, it is the request's answer.
   */
  fetch(upstream: string, path: string, init?: PluginFetchInit): Promise<FetchedResponse>;
}

/** A plugin: its module's default export, called once per config load with its options. */
export type Plugin<Options = unknown> = (
  options: Options,
  context: PluginContext,
) => MaybePromise<PluginHooks>;

/** One problem a plugin's `validate` finds in its options: a message, and the option it is at (`a.b`). */
export type PluginOptionProblem = string | { readonly path?: string; readonly message: string };

/** What a plugin module may export. */
export interface PluginModule {
  readonly default: Plugin;
  /** Checks the options before the plugin is made (`candor check` too): the problems, or none. */
  readonly validate?: (options: unknown) => readonly PluginOptionProblem[] | undefined;
}
