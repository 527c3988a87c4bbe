import { reservedHeaderProblem } from '../../core/config/routing-values.ts';
import type { Failure } from '../../core/failure/failure.ts';
import type { FieldMap, ResponseSink } from '../../core/net/downstream.ts';
import type { HoldBudget } from '../../core/net/hold-budget.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';
import type {
  AdmittedRequest,
  HeadVerdict,
  RequestVerdict,
  RouteStage,
  StagedVerdict,
  StageHook,
  StageHooks,
  StageRequest,
  StageWatch,
  UpstreamAnswerHead,
  UpstreamChoice,
} from './stage.ts';
import { Overran, stageFailure, withDeadline } from './stage-failure.ts';

/** What the stages made of an upstream's head: relay it (undefined), ask again, or a stage's failure. */
export type HeadOutcome = Failure | HeadVerdict;

/** Each stage's hooks for one request, by the stage's place in its route's list (a hole: none for it). */
type StartedHooks = (StageHooks | undefined)[];

/**
 * A route's stages, in the order they run: built once per route when a config loads and held by
 * the runtime of that config. A route with none has no RouteStages at all (the plain path).
 */
export class RouteStages {
  readonly stages: readonly RouteStage[];
  readonly #watch: StageWatch;
  /** How many of the stages, from the first, are access stages (stage.ts's RouteStage.access). */
  readonly #access: number;

  constructor(stages: readonly RouteStage[], watch: StageWatch) {
    this.stages = stages;
    this.#watch = watch;
    let access = 0;
    while (access < stages.length && stages[access].access === true) access++;
    this.#access = access;
  }

  /** This request's run of the stages; undefined when none has anything to do for it. */
  start(request: StageRequest): StageRun | undefined | Failure {
    let started: StartedHooks | undefined;
    const { stages } = this;
    for (let i = 0; i < stages.length; i++) {
      const stage = stages[i];
      let hooks: StageHooks | undefined;
      try {
        hooks = stage.start(request);
      } catch (err) {
        const failure = stageFailure(stage, 'start', err);
        this.#watch.ran(stage.name, 'start', 0, failure);
        if (stage.failOpen) continue;
        return failure;
      }
      if (hooks === undefined) continue;
      started ??= new Array(stages.length);
      started[i] = hooks;
    }
    return started === undefined
      ? undefined
      : new StageRun(stages, started, this.#watch, request, this.#access);
  }

  /** The stages' own end (a reload replaced their config): each given `ms` at most. */
  async close(ms: number): Promise<void> {
    await Promise.all(
      this.stages.map((stage) =>
        stage.close === undefined
          ? undefined
          : withDeadline(
              Promise.resolve().then(() => stage.close?.()),
              ms,
            ),
      ),
    );
  }
}

/** One request's run of its route's stages: each hook guarded, so a stage's bug is its request's named 500. */
export class StageRun {
  readonly #stages: readonly RouteStage[];
  readonly #hooks: Readonly<StartedHooks>;
  readonly #watch: StageWatch;
  readonly #request: StageRequest;
  /** Which hooks any stage has for this request, found once. */
  readonly editsAnswers: boolean;
  readonly readsUpstreamHeads: boolean;
  readonly wrapsSinks: boolean;
  /** A stage not Candor's own meets the upstream's head: the gateway's fields are guarded around it. */
  readonly #guardHeads: boolean;
  /** editAnswer as a function of its own (the session's answer edit), made the first time it is asked for. */
  #edit: ((headers: readonly string[]) => string[]) | undefined;
  /** A failure of an answer edit (it cannot answer then): the request's log says so. */
  editFailure: Failure | undefined;
  /** The access stages are the first `#access` (their onRequest is onAccess's). */
  readonly #access: number;

  constructor(
    stages: readonly RouteStage[],
    hooks: Readonly<StartedHooks>,
    watch: StageWatch,
    request: StageRequest,
    access = 0,
  ) {
    this.#access = access;
    this.#stages = stages;
    this.#hooks = hooks;
    this.#watch = watch;
    this.#request = request;
    let edits = false;
    let heads = false;
    let sinks = false;
    let guard = false;
    for (let i = 0; i < hooks.length; i++) {
      const run = hooks[i];
      if (run === undefined) continue;
      edits ||= run.editAnswer !== undefined;
      sinks ||= run.wrapSink !== undefined;
      if (run.onUpstreamHead === undefined) continue;
      heads = true;
      guard ||= stages[i].trusted !== true;
    }
    this.editsAnswers = edits;
    this.readsUpstreamHeads = heads;
    this.wrapsSinks = sinks;
    this.#guardHeads = guard;
  }

  /** The request's body, read whole at a stage's ask (every attempt sends it); undefined: none was. */
  get bodyRead(): Buffer | undefined {
    return this.#request.bodyRead;
  }

  /** The stages' edits of the request's fields on their way upstream (stage.ts); undefined: none made. */
  get upstreamEdits(): ReadonlyMap<string, string | undefined> | undefined {
    return this.#request.upstreamEdits;
  }

  /** Every answer's fields through the stages' edits, as one function (undefined: no stage edits answers). */
  get answerEdit(): ((headers: readonly string[]) => string[]) | undefined {
    if (!this.editsAnswers) return undefined;
    this.#edit ??= (headers) => this.editAnswer(headers);
    return this.#edit;
  }

  /**
   * The sink an attempt's answer body goes through, each stage's around the next one's (the first
   * stage outermost). A stage whose wrap throws is left out (logged): the answer goes as it came.
   */
  wrapSink(sink: ResponseSink, budget: HoldBudget | undefined): ResponseSink {
    let wrapped = sink;
    for (let i = this.#hooks.length - 1; i >= 0; i--) {
      const hooks = this.#hooks[i];
      if (hooks?.wrapSink === undefined) continue;
      const stage = this.#stages[i];
      try {
        wrapped = hooks.wrapSink(wrapped, budget);
      } catch (err) {
        this.#watch.ran(stage.name, 'wrapSink', 0, stageFailure(stage, 'wrapSink', err));
      }
    }
    return wrapped;
  }

  /**
   * The request meets each access stage's onRequest in order, before the route's admit policies
   * (stage.ts's RouteStage.access): the first answer or refusal ends it.
   */
  onAccess(): StagedVerdict {
    return this.#access === 0 ? undefined : this.#requestFrom(0, NOTHING_ADMITTED, this.#access);
  }

  /** The access stages' edits of the request's fields on the way upstream, in their order (undefined: none). */
  get accessEdit(): AnswerEdit | undefined {
    let edit: AnswerEdit | undefined;
    for (let i = 0; i < this.#access; i++) {
      const own = this.#hooks[i]?.requestEdit?.();
      if (own === undefined) continue;
      const before = edit;
      edit = before === undefined ? own : (headers) => own(before(headers));
    }
    return edit;
  }

  /**
   * The request meets each other stage's onRequest in order (the access stages' came before the
   * admit policies: onAccess): the first answer or refusal ends it (going on waits for a body read a stage began).
   */
  onRequest(admitted: AdmittedRequest): StagedVerdict {
    return this.#requestFrom(this.#access, admitted, this.#hooks.length);
  }

  #requestFrom(index: number, admitted: AdmittedRequest, end: number): StagedVerdict {
    for (let i = index; i < end; i++) {
      const hooks = this.#hooks[i];
      if (hooks?.onRequest === undefined) continue;
      const stage = this.#stages[i];
      const t0 = stage.trusted ? 0 : performance.now();
      let verdict: RequestVerdict | Promise<RequestVerdict>;
      try {
        verdict = hooks.onRequest(admitted);
      } catch (err) {
        const failed = this.#failed(stage, 'onRequest', t0, err);
        if (failed !== undefined) return failed;
        continue;
      }
      if (verdict instanceof Promise)
        // A hook's time waiting for the client's body is the client's (bounded by the body's own timeouts, 408), not the stage's.
        return withDeadline(verdict, stage.timeoutMs, () => this.#request.bodyWaitMs()).then(
          (settled) => {
            if (!stage.trusted) this.#watch.ran(stage.name, 'onRequest', performance.now() - t0, undefined);
            return settled ?? this.#requestFrom(i + 1, admitted, end);
          },
          (err) => {
            if (err instanceof Overran) hooks.abandon?.();
            return this.#failed(stage, 'onRequest', t0, err) ?? this.#requestFrom(i + 1, admitted, end);
          },
        );
      if (!stage.trusted) this.#watch.ran(stage.name, 'onRequest', performance.now() - t0, undefined);
      if (verdict !== undefined) return verdict;
    }
    // A stage began reading the body and went on without waiting for it: the request goes on once
    // that read ended (one reader of the client's stream at a time).
    return end < this.#hooks.length ? undefined : this.#request.bodyReading?.then(() => undefined);
  }

  /**
   * The upstream's answer's head meets each stage (its fields edited in place): relayed
   * (undefined), asked again (the first stage that asks), or a stage's bug as the request's failure;
   * a promise of that when a stage waits (each stage after it meets the head once it decided).
   */
  onUpstreamHead(head: UpstreamAnswerHead): HeadOutcome | Promise<HeadOutcome> {
    // Candor's own stages leave the gateway's fields alone: only another's are guarded against.
    if (!this.#guardHeads) return this.#upstreamHead(head, 0);
    const own = gatewayFields(head.headers);
    let outcome: HeadOutcome | Promise<HeadOutcome>;
    try {
      outcome = this.#upstreamHead(head, 0);
    } catch (err) {
      keepGatewayFields(head.headers, own);
      throw err;
    }
    // After the last stage decided: at once, or once the waiting one (and those after it) did.
    if (outcome instanceof Promise) return outcome.finally(() => keepGatewayFields(head.headers, own));
    keepGatewayFields(head.headers, own);
    return outcome;
  }

  #upstreamHead(head: UpstreamAnswerHead, index: number): HeadOutcome | Promise<HeadOutcome> {
    for (let i = index; i < this.#hooks.length; i++) {
      const hooks = this.#hooks[i];
      if (hooks?.onUpstreamHead === undefined) continue;
      const stage = this.#stages[i];
      const t0 = stage.trusted ? 0 : performance.now();
      let returned: HeadVerdict | Promise<HeadVerdict> | undefined;
      try {
        returned = hooks.onUpstreamHead(head) as HeadVerdict | Promise<HeadVerdict>;
      } catch (err) {
        const failed = this.#failed(stage, 'onUpstreamHead', t0, err);
        if (failed !== undefined) return failed;
        continue;
      }
      if (returned instanceof Promise)
        return withDeadline(returned, stage.timeoutMs).then(
          (settled) => {
            if (!stage.trusted)
              this.#watch.ran(stage.name, 'onUpstreamHead', performance.now() - t0, undefined);
            return settled ?? this.#upstreamHead(head, i + 1);
          },
          (err) => {
            if (err instanceof Overran) hooks.abandon?.();
            return this.#failed(stage, 'onUpstreamHead', t0, err) ?? this.#upstreamHead(head, i + 1);
          },
        );
      if (!stage.trusted) this.#watch.ran(stage.name, 'onUpstreamHead', performance.now() - t0, undefined);
      if (returned !== undefined) return returned;
    }
    return undefined;
  }

  /**
   * The upstream a stage chose for the request (stage.ts's chooseUpstream: the first that chooses),
   * on the fields as access left them; undefined: the route's own. A stage's bug, or a name that is
   * none of `upstreams`, is the request's failure naming it.
   */
  chooseUpstream(
    fields: FieldMap,
    upstreams: ReadonlyMap<string, unknown>,
  ): UpstreamChoice | Failure | undefined {
    for (let i = 0; i < this.#hooks.length; i++) {
      const hooks = this.#hooks[i];
      if (hooks?.chooseUpstream === undefined) continue;
      const stage = this.#stages[i];
      let choice: UpstreamChoice | undefined;
      try {
        choice = hooks.chooseUpstream(fields);
        if (choice !== undefined && !upstreams.has(choice.upstream))
          throw new Error(`chose "${choice.upstream}", no upstream of the config`);
      } catch (err) {
        const failed = this.#failed(stage, 'chooseUpstream', performance.now(), err);
        if (failed !== undefined) return failed;
        continue;
      }
      if (choice !== undefined) return choice;
    }
    return undefined;
  }

  /**
   * The upstreams a request waiting in its upstream's hold may go to now (stage.ts's
   * upstreamsNow: the stage that chose its upstream); undefined: no stage says (it waits where it is).
   * A stage's bug here is the request's failure naming it.
   */
  upstreamsNow(redraw: boolean): readonly string[] | Failure | undefined {
    for (let i = 0; i < this.#hooks.length; i++) {
      const hooks = this.#hooks[i];
      if (hooks?.upstreamsNow === undefined) continue;
      try {
        return hooks.upstreamsNow(redraw);
      } catch (err) {
        const failed = this.#failed(this.#stages[i], 'upstreamsNow', performance.now(), err);
        if (failed !== undefined) return failed;
      }
    }
    return undefined;
  }

  /** Every answer's fields through each stage's edit, in order. */
  editAnswer(headers: readonly string[]): string[] {
    let edited = headers as string[];
    for (let i = 0; i < this.#hooks.length; i++) {
      const hooks = this.#hooks[i];
      if (hooks?.editAnswer === undefined) continue;
      const stage = this.#stages[i];
      try {
        edited = hooks.editAnswer(edited);
      } catch (err) {
        // Too late for a 500 (this is the answer being written): the answer goes without this edit.
        this.editFailure = stageFailure(stage, 'editAnswer', err);
        this.#watch.ran(stage.name, 'editAnswer', 0, this.editFailure);
      }
    }
    return edited;
  }

  /** The request is over and its record whole: each stage counts it (a failure here is only logged). */
  onEnd(record: Parameters<NonNullable<StageHooks['onEnd']>>[0]): void {
    for (let i = 0; i < this.#hooks.length; i++) {
      const hooks = this.#hooks[i];
      if (hooks?.onEnd === undefined) continue;
      const stage = this.#stages[i];
      const t0 = stage.trusted ? 0 : performance.now();
      try {
        hooks.onEnd(record);
        if (!stage.trusted) this.#watch.ran(stage.name, 'onEnd', performance.now() - t0, undefined);
      } catch (err) {
        this.#watch.ran(stage.name, 'onEnd', performance.now() - t0, stageFailure(stage, 'onEnd', err));
      }
    }
  }

  /** A hook failed: told, and the request's failure unless the stage fails open (undefined: go on). */
  #failed(stage: RouteStage, hook: StageHook, t0: number, err: unknown): Failure | undefined {
    const failure = stageFailure(stage, hook, err);
    this.#watch.ran(stage.name, hook, performance.now() - t0, failure);
    return stage.failOpen ? undefined : failure;
  }
}

/** What the access stages meet of admission: nothing yet (they come before it). */
const NOTHING_ADMITTED: AdmittedRequest = {};

/** The fields of a head Candor writes itself (framing, hop-by-hop, Via, the request id, Proxy-Status), as [name, value, …]. */
function gatewayFields(headers: readonly string[]): string[] {
  const own: string[] = [];
  for (let i = 0; i < headers.length; i += 2)
    if (reservedHeaderProblem(headers[i].toLowerCase()) !== undefined) own.push(headers[i], headers[i + 1]);
  return own;
}

/** A stage's edit of a head leaves Candor's own fields as they were: what it wrote of them is dropped, what it took out put back. */
function keepGatewayFields(headers: string[], own: readonly string[]): void {
  let w = 0;
  for (let i = 0; i < headers.length; i += 2) {
    if (reservedHeaderProblem(headers[i].toLowerCase()) !== undefined) continue;
    headers[w++] = headers[i];
    headers[w++] = headers[i + 1];
  }
  headers.length = w;
  headers.push(...own);
}
