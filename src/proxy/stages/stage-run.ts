import type { Failure } from '../../core/failure/failure.ts';
import type { BufferBudget } from '../../core/net/buffer-budget.ts';
import type { AnswerSink, FieldMap } from '../../core/net/downstream.ts';
import type { AnswerEdit } from '../../core/net/own-answer.ts';
import { bodyCopies } from './body-copies.ts';
import { keepingGatewayFields } from './gateway-fields.ts';
import type {
  AdmittedRequest,
  BeforeAttemptsVerdict,
  BodyCopy,
  ForwardedRequest,
  HeadVerdict,
  RelayedHead,
  RequestVerdict,
  RouteStage,
  StageAnswer,
  StagedVerdict,
  StageHook,
  StageHooks,
  StageRequest,
  StageWatch,
  UpstreamAnswerHead,
  UpstreamChoice,
} from './stage.ts';
import { endStages } from './stage-end.ts';
import { Overran, stageFailure, withDeadline } from './stage-failure.ts';

/** What the stages made of an upstream's head: relay it (undefined), ask again, or a stage's failure. */
export type HeadOutcome = Failure | HeadVerdict;

/** Each stage's hooks for one request, by the stage's place in its route's list (a hole: none for it). */
export type StartedHooks = (StageHooks | undefined)[];

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
  readonly forwards: boolean;
  readonly relays: boolean;
  /** A stage past the access stages edits the request's fields on their way upstream (editRequest). */
  readonly editsRequests: boolean;
  /** A stage not Candor's own meets the upstream's head: the gateway's fields are guarded around it. */
  readonly #guardHeads: boolean;
  /** editAnswer as a function of its own (the session's answer edit), made the first time it is asked for. */
  #edit: AnswerEdit | undefined;
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
    let forwards = false;
    let relays = false;
    let requests = false;
    for (let i = 0; i < hooks.length; i++) {
      const run = hooks[i];
      if (run === undefined) continue;
      edits ||= run.editAnswer !== undefined;
      requests ||= i >= access && run.requestEdit !== undefined;
      sinks ||= run.wrapSink !== undefined;
      forwards ||= run.onForward !== undefined;
      relays ||= run.onRelayed !== undefined;
      if (run.onUpstreamHead === undefined) continue;
      heads = true;
      guard ||= stages[i].trusted !== true;
    }
    this.editsAnswers = edits;
    this.readsUpstreamHeads = heads;
    this.wrapsSinks = sinks;
    this.forwards = forwards;
    this.relays = relays;
    this.editsRequests = requests;
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
  get answerEdit(): AnswerEdit | undefined {
    if (!this.editsAnswers) return undefined;
    this.#edit ??= (headers, failed) => this.editAnswer(headers, failed === true);
    return this.#edit;
  }

  /**
   * The sink an attempt's answer body goes through, each stage's around the next one's (the first
   * stage outermost). A stage whose wrap throws is left out (logged): the answer goes as it came.
   */
  wrapSink(sink: AnswerSink, budget: BufferBudget | undefined): AnswerSink {
    let wrapped = sink;
    for (let i = this.#hooks.length - 1; i >= 0; i--) {
      const hooks = this.#hooks[i];
      if (hooks?.wrapSink === undefined) continue;
      const stage = this.#stages[i];
      try {
        wrapped = hooks.wrapSink(wrapped, budget);
      } catch (err) {
        this.#failed(stage, 'wrapSink', performance.now(), err, true);
      }
    }
    return wrapped;
  }

  /**
   * The request meets each access stage's onRequest in order, before the route's admit policies
   * (stage.ts's RouteStage.access): the first answer or refusal ends it.
   */
  onAccess(): StagedVerdict {
    return this.#access === 0
      ? undefined
      : this.#inOrder<RequestVerdict>('onRequest', 0, NOTHING_ADMITTED, this.#access);
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
   * The request's fields on their way upstream through the edits of the stages past the access
   * stages (stage.ts's requestEdit: the route's header rules), in their order: what every attempt
   * sends, after the access stages' edit and the stages' upstreamFields. Asked once, as the
   * upstream's request is made, only when `editsRequests`.
   */
  editRequest(headers: string[]): string[] {
    let edited = headers;
    for (let i = this.#access; i < this.#hooks.length; i++) {
      const edit = this.#hooks[i]?.requestEdit?.();
      if (edit !== undefined) edited = edit(edited);
    }
    return edited;
  }

  /**
   * The request meets each other stage's onRequest in order (the access stages' came before the
   * admit policies: onAccess): the first answer or refusal ends it (going on waits for a body read a stage began).
   */
  onRequest(admitted: AdmittedRequest): StagedVerdict {
    return this.#inOrder<RequestVerdict>('onRequest', this.#access, admitted);
  }

  /**
   * The upstream's answer's head meets each stage (its fields edited in place): relayed
   * (undefined), asked again (the first stage that asks), or a stage's bug as the request's failure;
   * a promise of that when a stage waits (each stage after it meets the head once it decided).
   */
  onUpstreamHead(head: UpstreamAnswerHead): HeadOutcome | Promise<HeadOutcome> {
    // Candor's own stages leave the gateway's fields alone: only another's are guarded against.
    if (!this.#guardHeads) return StageRun.#headVerdict(this, head);
    return keepingGatewayFields(head.headers, StageRun.#headVerdict, this, head);
  }

  static #headVerdict(run: StageRun, head: UpstreamAnswerHead): HeadOutcome | Promise<HeadOutcome> {
    return run.#inOrder<HeadVerdict>('onUpstreamHead', 0, head);
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
  editAnswer(headers: readonly string[], failed = false): string[] {
    let edited = headers as string[];
    for (let i = 0; i < this.#hooks.length; i++) {
      const hooks = this.#hooks[i];
      if (hooks?.editAnswer === undefined) continue;
      const stage = this.#stages[i];
      try {
        edited = hooks.editAnswer(edited, failed);
      } catch (err) {
        // Too late for a 500 (this is the answer being written): the answer goes without this edit.
        this.editFailure = stageFailure(stage, 'editAnswer', err);
        this.#watch.ran(stage.name, 'editAnswer', 0, this.editFailure, this.#request.record.id, true);
      }
    }
    return edited;
  }

  /**
   * An interim (1xx) answer's fields through each of Candor's own stages' edit, in order (one not
   * Candor's own is not met: unguarded, it could take out the gateway's fields); undefined when an
   * edit threw: the interim answer is not passed on (it is no answer: the final one still comes).
   */
  editInterim(headers: readonly string[]): readonly string[] | undefined {
    return this.#trustedEdits('editInterim', headers, true);
  }

  /**
   * A 101's fields through each of Candor's own stages' editSwitch, in order. One that throws is
   * left out (logged): the switch goes on without its edit, as an answer goes without editAnswer's.
   */
  editSwitch(headers: readonly string[]): readonly string[] {
    return this.#trustedEdits('editSwitch', headers, false) as readonly string[];
  }

  /** `headers` through each trusted stage's `hook`; one that throws is logged, and ends the edits (undefined) if `stopAtThrow`. */
  #trustedEdits(
    hook: 'editInterim' | 'editSwitch',
    headers: readonly string[],
    stopAtThrow: boolean,
  ): readonly string[] | undefined {
    let edited = headers;
    for (let i = 0; i < this.#hooks.length; i++) {
      const hooks = this.#hooks[i];
      const edit = hooks?.[hook];
      const stage = this.#stages[i];
      if (edit === undefined || stage.trusted !== true) continue;
      try {
        edited = edit.call(hooks, edited);
      } catch (err) {
        this.#watch.ran(stage.name, hook, 0, stageFailure(stage, hook, err), this.#request.record.id, true);
        if (stopAtThrow) return undefined;
      }
    }
    return edited;
  }

  /** The request is over and its record whole: each stage counts it (a failure here is only logged). */
  onEnd(record: Parameters<NonNullable<StageHooks['onEnd']>>[0], finished = true): void {
    endStages(this.#stages, this.#hooks, this.#watch, record, finished);
  }

  /**
   * Before the first attempt, each stage's onForward in order: the first answer or failure ends
   * it; a promise of that when a stage waits (its own bound when its timeoutMs is not finite).
   */
  onForward(request: ForwardedRequest): BeforeAttemptsVerdict | Promise<BeforeAttemptsVerdict> {
    return this.#inOrder<BeforeAttemptsVerdict>('onForward', 0, request);
  }

  /**
   * Each started stage's `hook` in order from `index`, called with `arg`: the first verdict ends it
   * (a stage's failure is one, unless it fails open); a promise of that when a stage waits, bounded
   * by its timeoutMs when finite.
   */
  #inOrder<V>(
    hook: 'onRequest' | 'onUpstreamHead' | 'onForward',
    index: number,
    arg: unknown,
    end = this.#hooks.length,
  ): V | Failure | Promise<V | Failure | undefined> | undefined {
    for (let i = index; i < end; i++) {
      const hooks = this.#hooks[i];
      // Called with its argument as it is (no closure per request: a route's every request runs this).
      const run = hooks?.[hook] as ((arg: unknown) => V | Promise<V> | undefined) | undefined;
      if (hooks === undefined || run === undefined) continue;
      const stage = this.#stages[i];
      const t0 = stage.trusted ? 0 : performance.now();
      let verdict: V | Promise<V> | undefined;
      try {
        verdict = run.call(hooks, arg);
      } catch (err) {
        const failed = this.#failed(stage, hook, t0, err);
        if (failed !== undefined) return failed;
        continue;
      }
      // A method apart: this loop makes no closure for a stage that does not wait.
      if (verdict instanceof Promise) return this.#waited(verdict, hook, i, arg, t0, end);
      if (!stage.trusted) {
        const ms = performance.now() - t0;
        // A hook that held the event loop past its time and returned (a busy loop, a sync read of
        // a large file) overran as one that awaited would have: every request of the worker waited on it.
        if (ms >= stage.timeoutMs) {
          hooks.abandon?.();
          const failed = this.#failed(stage, hook, t0, new Overran(stage.timeoutMs));
          if (failed !== undefined) return failed;
          continue;
        }
        this.#watch.ran(stage.name, hook, ms, undefined);
      }
      if (verdict !== undefined) return verdict;
    }
    // A stage began reading the body and went on without waiting for it: the request goes on once
    // that read ended (one reader of the client's stream at a time; the access stages' run ends before).
    return hook === 'onRequest' && end === this.#hooks.length
      ? this.#request.bodyReading?.then(() => undefined)
      : undefined;
  }

  /** The stage at `i` waits: its verdict once settled (or its failure past its time), then the stages after it. */
  #waited<V>(
    verdict: Promise<V>,
    hook: 'onRequest' | 'onUpstreamHead' | 'onForward',
    i: number,
    arg: unknown,
    t0: number,
    end: number,
  ): Promise<V | Failure | undefined> {
    const stage = this.#stages[i];
    const hooks = this.#hooks[i] as StageHooks;
    // A hook's time waiting for the client's body is the client's (bounded by the body's own timeouts, 408), not the stage's.
    const excused = hook === 'onRequest' ? () => this.#request.bodyWaitMs() : undefined;
    const bounded = Number.isFinite(stage.timeoutMs)
      ? withDeadline(verdict, stage.timeoutMs, excused, stage.trusted ? undefined : t0)
      : verdict;
    // The stages after it once it decided: two callbacks a wait, no third to go on.
    return bounded.then(
      (settled) => {
        if (!stage.trusted) this.#watch.ran(stage.name, hook, performance.now() - t0, undefined);
        return settled ?? this.#inOrder<V>(hook, i + 1, arg, end);
      },
      (err) => {
        if (err instanceof Overran) hooks.abandon?.();
        return this.#failed(stage, hook, t0, err) ?? this.#inOrder<V>(hook, i + 1, arg, end);
      },
    );
  }

  /** The upstream's head went downstream: each stage's copy of its body (one for all); a stage that throws is left out (logged). */
  onRelayed(head: RelayedHead): BodyCopy | undefined {
    let copies: BodyCopy[] | undefined;
    for (let i = 0; i < this.#hooks.length; i++) {
      const hooks = this.#hooks[i];
      if (hooks?.onRelayed === undefined) continue;
      const stage = this.#stages[i];
      let copy: BodyCopy | undefined;
      try {
        copy = hooks.onRelayed(head);
      } catch (err) {
        // Too late for a 500 (the head went downstream): the answer goes on without this stage's copy.
        this.#failed(stage, 'onRelayed', performance.now(), err, true);
      }
      if (copy === undefined) continue;
      copies ??= [];
      copies.push(copy);
    }
    return copies === undefined ? undefined : bodyCopies(copies);
  }

  /** The request would end with this failure: the first stage's answer in its place, a stage's bug (its 500), or undefined. */
  onFailure(failure: Failure): StageAnswer | Failure | undefined {
    for (let i = 0; i < this.#hooks.length; i++) {
      const hooks = this.#hooks[i];
      if (hooks?.onFailure === undefined) continue;
      const stage = this.#stages[i];
      const t0 = stage.trusted ? 0 : performance.now();
      let answer: StageAnswer | undefined;
      try {
        answer = hooks.onFailure(failure);
      } catch (err) {
        const failed = this.#failed(stage, 'onFailure', t0, err);
        if (failed !== undefined) return failed;
        continue;
      }
      if (!stage.trusted) this.#watch.ran(stage.name, 'onFailure', performance.now() - t0, undefined);
      if (answer !== undefined) return answer;
    }
    return undefined;
  }

  /** A hook failed: told, and the request's failure unless the stage fails open or the request `wentOn` (undefined: go on). */
  #failed(stage: RouteStage, hook: StageHook, t0: number, err: unknown, wentOn = stage.failOpen) {
    const failure = stageFailure(stage, hook, err);
    this.#watch.ran(stage.name, hook, performance.now() - t0, failure, this.#request.record.id, wentOn);
    return wentOn ? undefined : failure;
  }
}

/** What the access stages meet of admission: nothing yet (they come before it). */
const NOTHING_ADMITTED: AdmittedRequest = {};
