/**
 * A request and an upstream's answer's head as a plugin reads them (plugin-api.ts), and what it
 * changed of their `Headers` carried back into the stage contract's own terms: the request's
 * `upstreamFields`, the answer's field list edited in place. A `Headers` is made only when the
 * plugin reads `headers` (a plugin that does not pays nothing for it).
 */
import type { FieldMap } from '../../core/net/downstream.ts';
import { withoutQuery } from '../../core/uri-path.ts';
import { checkedFieldValue, checkedHeadBytes, headBytes } from './plugin-answer.ts';
import type { PluginBodyOptions, PluginLogger, PluginRequest } from './plugin-api.ts';
import { handOver } from './plugin-promise.ts';
import { ReadOnlyClient, refuseAssignments } from './plugin-read-only.ts';
import { asGateway } from './plugin-scope.ts';
import type { StageRequest } from './stage.ts';

/** A Headers and the fields it was made with, by name (as it joins them), to tell what a hook changed. */
interface Snapshot {
  readonly headers: Headers;
  readonly before: ReadonlyMap<string, string>;
  /** The bytes its fields took in a head, before the hook's changes. */
  readonly bytes: number;
}

function snapshot(headers: Headers): Snapshot {
  return { headers, before: new Map(headers), bytes: headBytes(headers) };
}

/**
 * The fields a hook set (name → value) and deleted (name → undefined). A value it set with a
 * control character (RFC 9110 §5.5: a Headers refuses only NUL, CR and LF) is its bug, thrown:
 * a strict peer would refuse the head, and an HTTP/2 client's stream be reset. So are values
 * that, each within its bound, make the head past a whole one (plugin-answer.ts).
 */
function changes({ headers, before, bytes }: Snapshot): Map<string, string | undefined> {
  const changed = new Map<string, string | undefined>();
  for (const [name, value] of headers)
    if (before.get(name) !== value) changed.set(name, checkedFieldValue(name, value));
  for (const name of before.keys()) if (!headers.has(name)) changed.set(name, undefined);
  if (changed.size > 0) checkedHeadBytes(bytes, headBytes(headers));
  return changed;
}

function headersOfFields(fields: FieldMap, edits: ReadonlyMap<string, string | undefined>): Headers {
  const headers = new Headers();
  for (const name in fields) {
    if (edits.has(name)) continue;
    const value = fields[name];
    if (value === undefined) continue;
    // A value a Headers refuses (the parser let it through as obs-text) is left out of the plugin's view, not its request.
    try {
      if (typeof value === 'string') headers.append(name, value);
      else for (const one of value) headers.append(name, one);
    } catch {}
  }
  for (const [name, value] of edits) if (value !== undefined) headers.set(name, value);
  return headers;
}

/**
 * The request's query as a plugin reads it: a URLSearchParams whose changes throw (the plugin's
 * bug, a 500 naming it). The query the upstream receives is the route's (normalised, rewritten);
 * a change taken in silence and never sent would let a plugin believe it had, say, stripped a
 * token from it.
 */
class ReadOnlyQuery extends URLSearchParams {
  override append(): never {
    return refuseEdit('append');
  }
  override delete(): never {
    return refuseEdit('delete');
  }
  override set(): never {
    return refuseEdit('set');
  }
  override sort(): never {
    return refuseEdit('sort');
  }
}

function refuseEdit(what: string): never {
  throw new Error(
    `request.query.${what}(): the query is read only (the route's rewrite decides what the upstream receives)`,
  );
}

/** One request as one plugin sees it. */
export class PluginRequestView implements PluginRequest {
  readonly #request: StageRequest;
  readonly #logFor: (id: string) => PluginLogger;
  /** The plugin's name. */
  readonly #plugin: string;
  /** The plugin's stage name (`plugin:NAME`), which a 413 of its body's bound names. */
  readonly #stage: string;
  #headers: Snapshot | undefined;
  #query: URLSearchParams | undefined;
  /** The plugin's onRequest has settled: the request went on without its body read here. */
  #wentOn = false;
  #log: PluginLogger | undefined;

  constructor(request: StageRequest, logFor: (id: string) => PluginLogger, plugin: string) {
    this.#request = request;
    this.#logFor = logFor;
    this.#plugin = plugin;
    this.#stage = `plugin:${plugin}`;
  }

  get method(): string {
    return this.#request.head.method;
  }

  get path(): string {
    return withoutQuery(this.#request.upstreamPath);
  }

  get query(): URLSearchParams {
    if (this.#query === undefined) {
      const at = this.#request.upstreamPath.indexOf('?');
      this.#query = new ReadOnlyQuery(at === -1 ? '' : this.#request.upstreamPath.slice(at + 1));
    }
    return this.#query;
  }

  get headers(): Headers {
    // What goes upstream as access left it: the identity field the gateway writes, never the
    // client's forged copy of it (which access drops), nor a session cookie that stays here.
    this.#headers ??= snapshot(headersOfFields(this.#request.admittedFields(), this.#request.upstreamFields));
    return this.#headers.headers;
  }

  get client(): { readonly address: string } {
    return new ReadOnlyClient(this.#request.record.clientAddress);
  }

  get route(): string {
    return this.#request.route;
  }

  /** Who the route's authentication admitted, as the log's `user` says (the access stage writes it before any other stage's onRequest). */
  get identity(): string | undefined {
    return this.#request.record.user;
  }

  get id(): string {
    return this.#request.record.id;
  }

  /** A request the route's cache made itself (a fill, a refresh): it meets the plugins as a client's does, and says so. */
  get background(): string | undefined {
    return this.#request.background?.kind;
  }

  /** The body, in a promise that cannot end the worker when the plugin forgets it (plugin-promise.ts). */
  body(options?: PluginBodyOptions): Promise<Uint8Array> {
    return handOver(
      asGateway(() => this.#read(options)),
      { plugin: this.#plugin, what: 'body()' },
      (err) =>
        this.log.warn('body() failed and the plugin never took its failure (no await, no catch)', {
          err: err instanceof Error ? err.message : String(err),
        }),
    );
  }

  #read(options: PluginBodyOptions | undefined): Promise<Uint8Array> {
    const limit = options?.limit ?? Number.POSITIVE_INFINITY;
    if (typeof limit !== 'number' || !(limit >= 0))
      return Promise.reject(new Error(`body(): limit must be a number of bytes, got ${String(limit)}`));
    // Past onRequest the body is the upstream's (streamed, or read whole for it): only one read here is left to give.
    if (this.#wentOn && this.#request.bodyRead === undefined)
      return Promise.reject(new Error('body() is read in onRequest, before the request goes upstream'));
    // A copy: what goes upstream is the body as the client sent it, whatever the plugin writes into its bytes.
    return this.#request.readBody(limit, this.#stage).then((bytes) => new Uint8Array(bytes));
  }

  /** The stage contract's request under this view (a plugin's fetch for it carries its id and trace). */
  get stageRequest(): StageRequest {
    return this.#request;
  }

  get log(): PluginLogger {
    this.#log ??= this.#logFor(this.#request.record.id);
    return this.#log;
  }

  /** The request went on past this plugin's onRequest (or it has none): its body is the upstream's from now on. */
  wentOn(): void {
    this.#wentOn = true;
  }

  /**
   * The request went upstream (onResponse met its answer): what the plugin changes of its fields
   * from now on is measured against them as they went (not against what a failed or overrun
   * onRequest left uncommitted).
   */
  wentUpstream(): void {
    if (this.#headers !== undefined) this.#headers = snapshot(this.#headers.headers);
  }

  /**
   * Thrown (the plugin's bug) when it changed the request's fields after the request went
   * upstream: the change would be dropped without a word and the plugin believe the upstream had
   * it, as a change of the read-only query would.
   */
  refuseLateEdits(hook: string): void {
    const seen = this.#headers;
    if (seen === undefined) return;
    const late = [...changes(seen).keys()];
    if (late.length > 0)
      throw new Error(
        `changed request.headers (${late.join(', ')}) in ${hook}, after the request went upstream: change them in onRequest`,
      );
  }

  /** What the plugin changed of the request's fields goes upstream (stage-request.ts keeps Candor's own out of reach). */
  commitHeaders(): void {
    const seen = this.#headers;
    if (seen === undefined) return;
    for (const [name, value] of changes(seen)) this.#request.upstreamFields.set(name, value);
    this.#headers = snapshot(seen.headers);
  }
}

// `request.method = 'DELETE'` throws in a sloppy CommonJS plugin too (plugin-read-only.ts).
refuseAssignments(PluginRequestView.prototype, 'request');

/** The upstream answer's fields ([name, value, …]) as a Headers, and the plugin's changes written back in place. */
export class AnswerHeaders {
  readonly #fields: string[];
  readonly #seen: Snapshot;

  constructor(fields: string[]) {
    this.#fields = fields;
    const headers = new Headers();
    for (let i = 0; i < fields.length; i += 2)
      try {
        headers.append(fields[i], fields[i + 1]);
      } catch {}
    this.#seen = snapshot(headers);
  }

  get headers(): Headers {
    return this.#seen.headers;
  }

  /** Each field the plugin changed is written anew (every line of its name out, its new lines in). */
  commit(): void {
    const changed = changes(this.#seen);
    if (changed.size === 0) return;
    const fields = this.#fields;
    let w = 0;
    for (let i = 0; i < fields.length; i += 2) {
      if (changed.has(fields[i].toLowerCase())) continue;
      fields[w++] = fields[i];
      fields[w++] = fields[i + 1];
    }
    fields.length = w;
    const { headers } = this.#seen;
    for (const [name, value] of changed) {
      if (value === undefined) continue;
      // Set-Cookie is the one field a list of cannot be joined.
      if (name === 'set-cookie') for (const cookie of headers.getSetCookie()) fields.push(name, cookie);
      else fields.push(name, value);
    }
  }
}
