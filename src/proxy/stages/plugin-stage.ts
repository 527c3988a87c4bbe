/**
 * A plugin's hooks (plugin-api.ts) as a stage of the contract (stage.ts): the runner guards each
 * hook (a throw, a rejection or an overrun is a 500 naming `plugin:NAME` and the hook, or logged
 * and counted with `on_error: continue`), and this adapter keeps the rest of the promises: a
 * plugin's answer says it made it (`answered_by`), its header edits reach only what the contract
 * lets a stage edit, its onResponse sees the upstream's answers only.
 */
import type { RequestRecord } from '../../observe/log/request-record.ts';
import { ownAnswerOf } from './plugin-answer.ts';
import type { PluginAnswer, PluginHooks, PluginLogger, PluginRecord } from './plugin-api.ts';
import { AnswerHeaders, PluginRequestView } from './plugin-request.ts';
import type { RequestVerdict, RouteStage, StageHooks, StageRequest, UpstreamAnswerHead } from './stage.ts';

export interface PluginStageOptions {
  readonly timeoutMs: number;
  readonly failOpen: boolean;
  /** A logger for one request's lines (the plugin's name and the request id on each). */
  readonly logFor: (requestId: string) => PluginLogger;
}

/** The stage of one plugin instance, named `plugin:NAME`. */
export function pluginStage(name: string, plugin: PluginHooks, options: PluginStageOptions): RouteStage {
  const stageName = `plugin:${name}`;
  const uses =
    plugin.onRequest !== undefined || plugin.onResponse !== undefined || plugin.onEnd !== undefined;
  return {
    name: stageName,
    timeoutMs: options.timeoutMs,
    failOpen: options.failOpen,
    // A plugin with no request hook (only close) runs no code per request.
    start: uses ? (request) => new PluginRun(stageName, plugin, request, options.logFor) : () => undefined,
    ...(plugin.close === undefined ? {} : { close: () => plugin.close?.() }),
  };
}

/** One request's run of a plugin. */
class PluginRun implements StageHooks {
  readonly onRequest?: StageHooks['onRequest'];
  readonly onUpstreamHead?: StageHooks['onUpstreamHead'];
  readonly onEnd?: StageHooks['onEnd'];
  readonly #view: PluginRequestView;

  constructor(
    stage: string,
    plugin: PluginHooks,
    request: StageRequest,
    logFor: (id: string) => PluginLogger,
  ) {
    const view = new PluginRequestView(request, logFor);
    this.#view = view;
    const { onRequest, onResponse, onEnd } = plugin;
    if (onRequest !== undefined)
      this.onRequest = () => {
        const returned = onRequest.call(plugin, view);
        if (returned instanceof Promise)
          return returned.then((settled) => this.#settled(stage, request, settled));
        return this.#settled(stage, request, returned);
      };
    if (onResponse !== undefined)
      this.onUpstreamHead = (head: UpstreamAnswerHead) => {
        const fields = new AnswerHeaders(head.headers);
        const returned: unknown = onResponse.call(
          plugin,
          { status: head.status, headers: fields.headers },
          view,
        );
        if (returned instanceof Promise)
          throw new Error('returned a promise: onResponse decides at once (docs/plugins.md)');
        fields.commit();
      };
    if (onEnd !== undefined)
      this.onEnd = (record: RequestRecord) => {
        const returned = onEnd.call(plugin, recordOf(record));
        // A rejection after the request is over is the plugin's, logged as an onEnd failure would be.
        if (returned instanceof Promise)
          returned.catch((err: unknown) => view.log.error('onEnd rejected', { err: String(err) }));
      };
  }

  /** What onRequest returned: its header edits go upstream, its answer is the request's, saying who made it. */
  #settled(
    stage: string,
    request: StageRequest,
    // biome-ignore lint/suspicious/noConfusingVoidType: what a hook that returns nothing returned
    returned: PluginAnswer | undefined | void,
  ): RequestVerdict | Promise<RequestVerdict> {
    this.#view.commitHeaders();
    if (returned === undefined || returned === null) return undefined;
    const answer = ownAnswerOf(returned);
    request.record.answeredBy = stage;
    return answer;
  }
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
    upstream: record.upstream,
    ms: record.elapsed(),
  };
}
