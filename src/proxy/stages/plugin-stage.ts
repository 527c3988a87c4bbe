/**
 * A plugin's hooks (plugin-api.ts) as a stage of the contract (stage.ts): the runner guards each
 * hook (a throw, a rejection or an overrun is a 500 naming `plugin:NAME` and the hook, or logged
 * and counted with `on_error: continue`), and this adapter keeps the rest of the promises: a
 * plugin's answer says it made it (`answered_by`), its header edits reach only what the contract
 * lets a stage edit, its onResponse sees the upstream's answers only.
 */
import { Failure } from '../../core/failure/failure.ts';
import type { OwnAnswer } from '../../core/net/own-answer.ts';
import { loggedUpstream, type RequestRecord } from '../../observe/log/request-record.ts';
import { ownAnswerOf } from './plugin-answer.ts';
import type { PluginAnswer, PluginHooks, PluginLogger, PluginRecord } from './plugin-api.ts';
import { handedTo } from './plugin-promise.ts';
import { ReadOnlyAnswerHead } from './plugin-read-only.ts';
import { AnswerHeaders, PluginRequestView } from './plugin-request.ts';
import { asPlugin, callAsPlugin } from './plugin-scope.ts';
import type { RequestVerdict, RouteStage, StageHooks, StageRequest, UpstreamAnswerHead } from './stage.ts';

export interface PluginStageOptions {
  readonly timeoutMs: number;
  readonly failOpen: boolean;
  /** A logger for one request's lines (the plugin's name and the request id on each). */
  readonly logFor: (requestId: string) => PluginLogger;
}

/** A plugin's failure is told by its own word for the hook (`plugin:NAME threw in onResponse`): what its author reads. */
const HOOK_NAMES = Object.freeze({ onUpstreamHead: 'onResponse' });

/** The stage of one plugin instance, named `plugin:NAME`. */
export function pluginStage(name: string, plugin: PluginHooks, options: PluginStageOptions): RouteStage {
  const stageName = `plugin:${name}`;
  const uses =
    plugin.onRequest !== undefined || plugin.onResponse !== undefined || plugin.onEnd !== undefined;
  // This plugin's run: the hooks it has and no other (a hook it lacks is no call at all, as the contract asks).
  class Run extends PluginRun {}
  const proto = Run.prototype as Partial<Record<keyof StageHooks, unknown>>;
  if (plugin.onRequest === undefined) proto.onRequest = undefined;
  if (plugin.onResponse === undefined) proto.onUpstreamHead = undefined;
  if (plugin.onEnd === undefined) proto.onEnd = undefined;
  return {
    name: stageName,
    timeoutMs: options.timeoutMs,
    failOpen: options.failOpen,
    hookNames: HOOK_NAMES,
    // A plugin with no request hook (only close) runs no code per request.
    start: uses
      ? (request) =>
          new Run(
            name,
            plugin,
            request,
            new PluginRequestView(request, options.logFor, name),
            options.failOpen,
          )
      : () => undefined,
    ...(plugin.close === undefined ? {} : { close: () => asPlugin(name, () => plugin.close?.()) }),
  };
}

/**
 * One request's run of a plugin: one object a request (its hooks are the prototype's: no closure
 * is made per request), its subclass in pluginStage taking out the hooks the plugin lacks.
 */
class PluginRun implements StageHooks {
  /** The plugin's name: its hooks run in its scope (plugin-scope.ts), and its answers say `plugin:NAME` made them. */
  readonly #name: string;
  readonly #plugin: PluginHooks;
  readonly #request: StageRequest;
  readonly #view: PluginRequestView;
  /** Its failures do not end the request (`on_error: continue`): the runner goes on without it. */
  readonly #failOpen: boolean;
  /** Its hook overran and the request went on without it (abandon): what it settles to later is dropped. */
  #abandoned = false;

  constructor(
    name: string,
    plugin: PluginHooks,
    request: StageRequest,
    view: PluginRequestView,
    failOpen: boolean,
  ) {
    this.#name = name;
    this.#plugin = plugin;
    this.#request = request;
    this.#view = view;
    this.#failOpen = failOpen;
  }

  onRequest(): RequestVerdict | Promise<RequestVerdict> {
    const plugin = this.#plugin;
    let returned: ReturnType<NonNullable<PluginHooks['onRequest']>> | undefined;
    try {
      returned =
        plugin.onRequest === undefined
          ? undefined
          : promised(callAsPlugin(this.#name, plugin.onRequest, plugin, this.#view));
    } catch (err) {
      throw unforged(err);
    }
    if (returned instanceof Promise)
      return returned.then(
        (settled) => this.#settled(settled),
        (err: unknown) => this.#rejected(err),
      );
    return this.#settled(returned);
  }

  /** Its edits of the answer's fields are written back once it returned, or once its promise resolved. */
  onUpstreamHead(head: UpstreamAnswerHead): undefined | Promise<undefined> {
    const view = this.#view;
    view.wentOn();
    view.wentUpstream();
    const fields = new AnswerHeaders(head.headers);
    const plugin = this.#plugin;
    // Its types unchecked, `response.status = 503` throws (its bug, a 500 naming it), in sloppy
    // code too, rather than be dropped while the upstream's status goes (plugin-read-only.ts).
    const answer = new ReadOnlyAnswerHead(head.status, fields.headers);
    let returned: unknown;
    try {
      returned =
        plugin.onResponse === undefined
          ? undefined
          : promised(callAsPlugin(this.#name, plugin.onResponse, plugin, answer, view));
    } catch (err) {
      throw unforged(err);
    }
    if (returned instanceof Promise)
      return returned.then(
        (settled) => {
          noAnswerFromHeadHook(settled);
          if (this.#abandoned) return undefined;
          view.refuseLateEdits('onResponse');
          fields.commit();
          return undefined;
        },
        (err: unknown) => this.#rejected(err),
      );
    noAnswerFromHeadHook(returned);
    view.refuseLateEdits('onResponse');
    fields.commit();
  }

  abandon(): void {
    this.#abandoned = true;
    // Its answer came, but past its time (the loop held): not the request's, nor its maker.
    const { record } = this.#request;
    if (record.answeredBy === `plugin:${this.#name}`) record.answeredBy = undefined;
  }

  /** Its promise goes to the runner (stage-end.ts): a rejection is its failure, told and counted as a throw. */
  onEnd(record: RequestRecord): Promise<unknown> | undefined {
    this.#view.wentOn();
    const plugin = this.#plugin;
    const returned =
      plugin.onEnd === undefined
        ? undefined
        : promised(callAsPlugin(this.#name, plugin.onEnd, plugin, recordOf(record)));
    return returned instanceof Promise ? returned : undefined;
  }

  /**
   * Its hook rejected. A failure of a hop of its own (its fetch's, whose `next-hop` names the
   * upstream it asked) that the runner makes the request's (stage-run.ts: unless the stage fails
   * open, or it came past the hook's time) is named by the log line as that hop's, never as the
   * route's upstream's. (A fetch's failure comes by a promise: a hook that threw at once had none.)
   */
  #rejected(thrown: unknown): never {
    const err = unforged(thrown);
    if (err instanceof Failure && err.nextHop !== undefined && !this.#failOpen && !this.#abandoned)
      this.#request.record.pluginHop = err.nextHop;
    throw err;
  }

  /** What onRequest returned: its header edits go upstream, its answer is the request's, saying who made it. */
  // biome-ignore lint/suspicious/noConfusingVoidType: what a hook that returns nothing returned
  #settled(returned: PluginAnswer | undefined | void): RequestVerdict | Promise<RequestVerdict> {
    this.#view.wentOn();
    // Too late: the request was answered (500) or went on (on_error: continue) without it; its
    // answer would say in the log that the plugin made the answer another made.
    if (this.#abandoned) return undefined;
    this.#view.commitHeaders();
    if (returned === undefined || returned === null) return undefined;
    const answer = ownAnswerOf(returned);
    if (!(answer instanceof Promise)) return this.#answered(answer);
    // Its body is read first: one that never ends, or fails, is no answer of the plugin's.
    return answer.then(
      (read) => this.#answered(read),
      (err: unknown) => this.#rejected(err),
    );
  }

  /** The plugin's answer, its own in the log line (unless it came too late to be the request's). */
  #answered(answer: OwnAnswer): OwnAnswer {
    if (!this.#abandoned) this.#request.record.answeredBy = `plugin:${this.#name}`;
    return answer;
  }
}

/**
 * What a plugin threw, unless it is a failure of the taxonomy it made itself (Candor's Failure
 * imported, `new Failure('connection_refused')`): told as it is, that would be the gateway's word
 * that the route's upstream refused or had no target, blamed on a hop that did nothing (DESIGN: a
 * plugin cannot change what the gateway says of a failure). Only the failures the gateway handed
 * it (its fetch's, its body()'s: plugin-promise.ts) are a hop's or the client's; any other is its bug.
 */
function unforged(err: unknown): unknown {
  let forged: boolean;
  try {
    forged = err instanceof Failure && handedTo(err) === undefined;
  } catch {
    // A value whose reading throws (a Proxy): stageFailure says so.
    return err;
  }
  return forged
    ? new Error(
        `threw a failure of its own making (${(err as Failure).type}): only fetch's and body()'s failures are told as theirs`,
        { cause: err },
      )
    : err;
}

/**
 * What a hook returned, a thenable that is no Promise (a promise library's, a PromiseLike of the
 * plugin's) made one: waited for, within the plugin's timeout, as a Promise is. Taken as it is,
 * onRequest's was "no answer" and onResponse's ignored, its edits dropped without a word.
 */
function promised<T>(returned: T | Promise<T>): T | Promise<T> {
  if (typeof returned !== 'object' || returned === null || returned instanceof Promise) return returned;
  // A `then` getter that throws is the plugin's throw (the hook's caller guards it).
  return typeof (returned as { then?: unknown }).then === 'function'
    ? Promise.resolve(returned as unknown as PromiseLike<T>)
    : returned;
}

/**
 * What onResponse returned, for it only edits the answer's fields. An answer it returns (a
 * Response, or `{ status }`: a 403 in place of the upstream's 200) would be dropped without a word
 * and the upstream's sent as if the plugin had agreed: its bug, thrown (a 500 naming it). Any other
 * value (a concise arrow's `map.set(…)`) is no answer meant, and ignored as before.
 */
function noAnswerFromHeadHook(returned: unknown): void {
  const status = typeof returned === 'object' && returned !== null && 'status' in returned;
  if (returned instanceof Response || (status && typeof returned.status === 'number'))
    throw new Error(
      'returned an answer from onResponse, which only edits response.headers: answer in onRequest instead',
    );
}

/** What a plugin's onEnd reads of the log line's record. */
function recordOf(record: RequestRecord): PluginRecord {
  return {
    id: record.id,
    route: record.route,
    method: record.method,
    path: record.path,
    status: record.status,
    error: record.failure?.type,
    // As the log line names it (not the route's upstream when a plugin's hop failed before it).
    upstream: loggedUpstream(record),
    ms: record.elapsed(),
    // The cache's own requests (a Range's fill, a refresh) end here too: a counting plugin tells them apart.
    background: record.background,
    forRequestId: record.backgroundFor,
  };
}
