/**
 * The end of a request's run of its stages (stage-run.ts): each stage's onEnd, whose failure is
 * only told (the answer went), with the request's id. A stage that counts asynchronously (a
 * plugin's async onEnd) is told once its promise settled: its rejection is its failure, as a throw;
 * past the stage's timeoutMs, an overrun.
 */
import type { RequestRecord } from '../../observe/log/request-record.ts';
import type { RouteStage, StageHooks, StageWatch } from './stage.ts';
import { Overran, stageFailure, withDeadline } from './stage-failure.ts';

export function endStages(
  stages: readonly RouteStage[],
  started: readonly (StageHooks | undefined)[],
  watch: StageWatch,
  record: RequestRecord,
  finished: boolean,
): void {
  for (let i = 0; i < started.length; i++) {
    const hooks = started[i];
    if (hooks?.onEnd === undefined) continue;
    const stage = stages[i];
    const t0 = stage.trusted ? 0 : performance.now();
    let ended: unknown;
    try {
      ended = hooks.onEnd(record, finished);
    } catch (err) {
      endFailed(stage, watch, record, t0, err);
      continue;
    }
    // Closures only for a stage that ends asynchronously: a request's usual end makes none.
    // Bounded as its other hooks are: one that never settles is told and counted as an overrun
    // (it held nothing of the answer, which went), never left untold.
    // Its time runs from the call: a busy loop before the promise it returns (an async onEnd's
    // code up to its first await) is its own, as in the other hooks (stage-run.ts).
    if (ended instanceof Promise)
      (Number.isFinite(stage.timeoutMs)
        ? withDeadline(ended, stage.timeoutMs, undefined, stage.trusted ? undefined : t0)
        : ended
      ).then(
        () => endOk(stage, watch, record, t0),
        (err: unknown) => endFailed(stage, watch, record, t0, err),
      );
    else endOk(stage, watch, record, t0);
  }
}

function endOk(stage: RouteStage, watch: StageWatch, record: RequestRecord, t0: number): void {
  if (stage.trusted) return;
  const ms = performance.now() - t0;
  // One that held the event loop past its time and returned (a busy loop) overran as one that
  // awaited would have: every request of the worker waited on it.
  if (ms >= stage.timeoutMs) endFailed(stage, watch, record, t0, new Overran(stage.timeoutMs));
  else watch.ran(stage.name, 'onEnd', ms, undefined);
}

function endFailed(
  stage: RouteStage,
  watch: StageWatch,
  record: RequestRecord,
  t0: number,
  err: unknown,
): void {
  watch.ran(stage.name, 'onEnd', performance.now() - t0, stageFailure(stage, 'onEnd', err), record.id, true);
}
