import type { Failure } from '../../core/failure/failure.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import type { RouteStage, StageHooks, StageRequest, StageWatch } from './stage.ts';
import { stageFailure, withDeadline } from './stage-failure.ts';
import { StageRun, type StartedHooks } from './stage-run.ts';

/**
 * A route's stages, in the order they run: built once per route when a config loads and held by
 * the runtime of that config. A route with none has no RouteStages at all (the plain path).
 */
export class RouteStages {
  readonly stages: readonly RouteStage[];
  readonly #watch: StageWatch;
  /** How many of the stages, from the first, are access stages (stage.ts's RouteStage.access). */
  readonly #access: number;
  /** Every stage tells from a request's head whether it meets it (RouteStage.meets); else undefined: all meet every request. */
  readonly #meets: readonly NonNullable<RouteStage['meets']>[] | undefined;

  constructor(stages: readonly RouteStage[], watch: StageWatch) {
    this.stages = stages;
    this.#watch = watch;
    let access = 0;
    while (access < stages.length && stages[access].access === true) access++;
    this.#access = access;
    const meets = stages.map((stage) => stage.meets?.bind(stage));
    this.#meets = meets.every((meet) => meet !== undefined) ? meets : undefined;
  }

  /** Whether any stage may have something to do for a request of this method and these fields (start is asked only then). */
  meets(method: string, fields: FieldMap): boolean {
    const meets = this.#meets;
    if (meets === undefined) return true;
    for (let i = 0; i < meets.length; i++) if (meets[i](method, fields)) return true;
    return false;
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
        this.#watch.ran(stage.name, 'start', 0, failure, request.record.id, stage.failOpen);
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
