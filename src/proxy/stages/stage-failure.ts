/**
 * A stage's bug as the request's failure (stage.ts): the one failure it is, and the deadline an
 * asynchronous hook overruns.
 */
import { Failure } from '../../core/failure/failure.ts';
import type { RouteStage, StageHook } from './stage.ts';

/** A stage's hook took longer than its stage allows. */
export class Overran extends Error {
  readonly ms: number;
  constructor(ms: number) {
    super(`did not settle within ${ms} ms`);
    this.ms = ms;
  }
}

/**
 * The one failure of a stage's bug: a 500 `proxy_internal_error` whose details name the stage and
 * the hook (the client reads no more: the error and its stack go to the log, as the failure's cause).
 */
export function stageFailure(stage: RouteStage, hook: StageHook, err: unknown): Failure {
  const readable = readableThrow(err);
  // A stage may refuse with a failure of the taxonomy on purpose (a hop's outage): that is its verdict, not a bug.
  if (readable instanceof Failure) return readable;
  const what = readable instanceof Overran ? `overran its ${readable.ms} ms` : 'threw';
  return new Failure('proxy_internal_error', `${stage.name} ${what} in ${stage.hookNames?.[hook] ?? hook}`, {
    cause: readable === undefined ? thrownUndefined() : readable,
  });
}

/**
 * What a stage threw, as the gateway can read it: a value whose every reading throws (a Proxy
 * whose traps throw: even `instanceof` asks its prototype) would throw again here, out of the
 * guard, and be told as the gateway's own bug (a 500 naming no stage). Said for what it is.
 */
function readableThrow(err: unknown): unknown {
  try {
    void (err instanceof Failure);
    return err;
  } catch (reading) {
    const told = new Error(
      `threw a value that cannot be read (reading it threw: ${reading instanceof Error ? reading.message : 'a non-Error'})`,
    );
    told.stack = undefined;
    return told;
  }
}

/**
 * The cause of `throw undefined` (or a promise rejected with nothing): an undefined cause is no
 * cause to the log, whose lines would say the stage threw and not what.
 */
function thrownUndefined(): Error {
  const told = new Error('threw undefined (`throw undefined`, or a promise rejected with no value)');
  // No stack: this module's would point at the gateway, not at the stage's code.
  told.stack = undefined;
  return told;
}

/**
 * A promise that rejects with Overran past `ms` (the late result is dropped). `excused` tells the
 * milliseconds so far that were not the hook's (waiting for the client's body): they move the
 * deadline on.
 */
export function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  excused?: () => number,
  since?: number,
): Promise<T> {
  // A stage whose waits are bounded by their own timeouts (access control's auth hops).
  if (ms === Number.POSITIVE_INFINITY) return promise;
  let timer: NodeJS.Timeout | undefined;
  // `since`: when the hook was called. An async hook runs up to its first await before it returns
  // its promise: a busy loop there is its time as much as one after an await.
  const t0 = since ?? performance.now();
  const excusedAt0 = excused?.() ?? 0;
  // Timers run before I/O in each turn of the event loop: after a stall of the gateway's own (another
  // request's hook that computes, a long collection, a CPU saturated by load) what the hook waits
  // for (a service's answer) may be unread in its socket while its time passes, and a 500 named the
  // plugin for the gateway's lag. So the timer looks again after the poll (setImmediate): a hook
  // that settled in that turn is in time.
  let looking = false;
  const overrun = new Promise<never>((_, reject) => {
    const check = (): void => {
      const own = excused === undefined ? ms : performance.now() - t0 - (excused() - excusedAt0);
      if (own < ms - 1) {
        timer = setTimeout(check, ms - own);
        return;
      }
      looking = true;
      setImmediate(() => reject(new Overran(ms)));
    };
    timer = setTimeout(check, Math.max(0, ms - (performance.now() - t0)));
  });
  // A hook that held the event loop past its time (a busy loop after an await) settles before
  // the timer can fire: it overran all the same. (Settled once the timer fired and looks again,
  // it waited through a stall the timer was late for: that is not counted.)
  const inTime = promise.then((value) => {
    const own = performance.now() - t0 - ((excused?.() ?? 0) - excusedAt0);
    if (own >= ms && !looking) throw new Overran(ms);
    return value;
  });
  return Promise.race([inTime, overrun]).finally(() => clearTimeout(timer));
}
