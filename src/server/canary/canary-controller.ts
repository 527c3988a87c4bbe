import type { GatewayConfig, SplitSide } from '../../core/config/types.ts';
import { StepLooks } from '../../upstream/canary/step-looks.ts';
import type { CanaryFleet } from './canary-fleet.ts';
import { CanaryJudging } from './canary-judging.ts';
import {
  type ByHand,
  type CanaryStatus,
  canaryStatusOf,
  movedFirst,
  type Run,
  sidesOf,
  toPhase,
} from './canary-run.ts';
import { canaryVersion } from './canary-version.ts';
import { KeptVerdicts } from './kept-verdicts.ts';
import { type OperatorAction, type OperatorWord, operatorAction } from './operator-actions.ts';

export type { ByHand, CanaryHost, CanaryStatus } from './canary-run.ts';

/**
 * The canary controller: for each route with a canary, moves its share step by step and
 * looks at each step's counts every check_interval, canary against baseline (step-looks.ts).
 * Worse with confidence: rollback (the share to 0 at once) or pause, at that look; every step
 * passed at its end: promote (the canary takes everything) or hold. Operators start, pause,
 * roll back and promote through the admin API. Each step, verdict and action is one log line
 * and one event (canary-event.ts), the actions named alike everywhere (CANARY_ACTIONS).
 *
 * Built in layers, each a file: the runs (canary-runs.ts), their state shared with the fleet
 * (canary-shared-state.ts), the steps (canary-steps.ts), the judging (canary-judging.ts), and
 * here the config's canaries and the operator's actions.
 */
export class CanaryController extends CanaryJudging {
  /**
   * The config in force (at start and after each reload) and the fleet it is judged with (see
   * FleetOfConfig): a canary that appears starts, one that is gone stops, one whose canary
   * upstream or steps changed starts again; others run on. With another fleet (one opened,
   * closed, or on another store) every canary starts again, as a start with this config does:
   * it joins the fleet's canary under way, or begins one.
   */
  sync(config: GatewayConfig, fleet: CanaryFleet | undefined): void {
    // The same folder: the same keeper, so that a write still to be tried again (a full disk) is not lost.
    const kept = new KeptVerdicts(config.stateDir, config.name, this.host.logger, (run) => this.current(run));
    if (kept.dir !== this.kept?.dir) {
      this.kept?.close();
      this.kept = kept;
    }
    if (fleet !== this.fleet) {
      for (const run of this.runs.values()) this.stopTimer(run);
      this.runs.clear();
      this.fleet = fleet;
    }
    const wanted = new Map(
      config.routes.flatMap((r) =>
        r.canary !== undefined && r.upstream !== undefined
          ? [[r.name, { route: r, canary: r.canary }] as const]
          : [],
      ),
    );
    for (const [name, run] of this.runs) {
      const next = wanted.get(name);
      // Its targets too: new ones under the canary's upstream name are a new version to judge,
      // not one promoted already.
      if (
        next !== undefined &&
        next.route.upstream === run.baseline &&
        canaryVersion(next.canary, config.upstreams[next.canary.upstream]) === run.version
      )
        continue;
      this.stopTimer(run);
      this.runs.delete(name);
    }
    for (const [name, { route, canary }] of wanted) {
      if (this.runs.has(name)) continue;
      const run: Run = {
        route: name,
        baseline: route.upstream as string,
        config: canary,
        phase: 'running',
        step: -1,
        share: 0,
        startedAt: Date.now(),
        ranMs: 0,
        runningSince: performance.now(),
        looks: new StepLooks(canary),
        reason: null,
        failedMetric: null,
        last: null,
        actions: [],
        timer: undefined,
        busy: Promise.resolve(),
        seq: 0,
        version: canaryVersion(canary, config.upstreams[canary.upstream]),
        unshared: false,
        publishing: Promise.resolve('none'),
        fleetError: null,
      };
      this.runs.set(name, run);
      // Not shared: in a fleet the canary may be under way already, and #begin joins it.
      this.recordAction(run, 'start', 'config', `canary ${canary.upstream} of route ${name} started`, false);
      // A start that fails (the workers' sides not set: a reload removed the route meanwhile)
      // is logged, never left a rejection nobody handles, which would end the process.
      run.busy = this.begin(run).catch((err: Error) => {
        if (this.current(run)) this.#failedToStart(run, err.message);
      });
    }
  }

  status(): CanaryStatus[] {
    return [...this.runs.values()].map(canaryStatusOf);
  }

  /**
   * An operator's action on a route's canary. start: from the first step (after a rollback, a
   * promotion or a hold) or on from where it paused; pause: the share stays, nothing moves;
   * rollback: the share to 0 at once; promote: the canary takes every request now.
   */
  async act(
    route: string,
    word: OperatorWord,
    who: string,
  ): Promise<{ problem: string } | { status: CanaryStatus }> {
    const action = operatorAction(word);
    const run = this.runs.get(route);
    if (run === undefined) return { problem: `route "${route}" has no canary` };
    await run.busy;
    // A reload may have started the canary again meanwhile: the action was meant for the run it saw.
    if (!this.current(run))
      return { problem: `the canary of route "${route}" was started again by a reload: try again` };
    const result = this.#act(run, route, action, who);
    run.busy = result.then(
      () => {},
      () => {},
    );
    return result;
  }

  /** An operator's action on a canary's run, acted on where the fleet's canary is now, then shared with the fleet. */
  async #act(
    run: Run,
    route: string,
    action: OperatorAction,
    who: string,
  ): Promise<{ problem: string } | { status: CanaryStatus }> {
    // In a fleet, acted on where the fleet's canary is now, not where this gateway's last look saw it.
    await this.refresh(run);
    const refused = await this.#apply(run, route, action, who);
    if (refused !== undefined) return refused;
    this.follow(run);
    if ((await run.publishing) === 'moved') {
      // Another gateway changed the fleet's canary first: the action is not the fleet's, and this
      // gateway follows the fleet again rather than hold a state no other gateway has.
      await this.refresh(run);
      return {
        problem: `${movedFirst(run)}: look again and try again`,
      };
    }
    return { status: canaryStatusOf(run) };
  }

  /** The action itself: its refusal, or undefined once it is done here. */
  async #apply(
    run: Run,
    route: string,
    action: OperatorAction,
    who: string,
  ): Promise<{ problem: string } | undefined> {
    if (action === 'start') return this.#start(run, route, who);
    if (action === 'pause') {
      if (run.phase !== 'running')
        return { problem: `the canary of route "${route}" is not running (${run.phase})` };
      this.stopTimer(run);
      toPhase(run, 'paused');
      run.reason = `paused by ${who}`;
      this.recordAction(run, 'pause', who, `canary of route ${route} paused at ${run.share}% by ${who}`);
      return undefined;
    }
    if (action === 'rollback') {
      if (run.phase === 'rolled_back')
        return { problem: `the canary of route "${route}" is already rolled back` };
      // The operator's stop, not a verdict's (one that paused it before): no failed metric.
      const refused = await this.rollback(run, `rolled back by ${who}`, who).then(
        () => undefined,
        (err: Error) => err.message,
      );
      return refused === undefined ? undefined : this.#notGiven(run, 'rolled back', 0, refused);
    }
    if (run.phase === 'promoted') return { problem: `the canary of route "${route}" is already promoted` };
    const refused = await this.promote(run, who).then(
      () => undefined,
      (err: Error) => err.message,
    );
    return refused === undefined ? undefined : this.#notGiven(run, 'promoted', 100, refused);
  }

  /** An operator's start: from the first step (after a rollback, a promotion or a hold) or on from where it paused. */
  async #start(run: Run, route: string, who: string): Promise<{ problem: string } | undefined> {
    if (run.phase === 'running') return { problem: `the canary of route "${route}" is already running` };
    const resume = run.phase === 'paused' && run.step >= 0;
    // On from its step at the step's share: a share set by hand was the operator's while it
    // was paused (one of 0 or 100 % would leave a side nothing to be judged on). Given to the
    // workers first: refused (a reload took the route's split away meanwhile), the canary
    // stays paused at the hand's share, which they still have, and the operator is told why.
    const handShare = resume && run.share !== run.config.steps[run.step];
    if (handShare) {
      const refused = await this.host.setSides(route, sidesOf(run, run.config.steps[run.step])).then(
        () => undefined,
        (err: Error) => err.message,
      );
      if (refused !== undefined)
        return {
          problem: `the canary of route "${route}" was not started: its step's weights (${run.config.steps[run.step]}%) were not given to the workers (${refused}); it stays paused at ${run.share}%`,
        };
    }
    // Paused by max_duration (weighed by hand since, or not), it had no time left: going on
    // "with the time it had left" would pause it again at its first look. The operator's
    // start gives it max_duration again.
    const outOfTime = resume && run.ranMs >= run.config.maxDuration;
    const before = { ...run };
    run.reason = null;
    run.failedMetric = null;
    if (!resume) {
      run.step = -1;
      run.startedAt = Date.now();
    }
    if (!resume || outOfTime) run.ranMs = 0;
    if (resume) run.share = run.config.steps[run.step];
    toPhase(run, 'running');
    // Logged and shared with the phase already running (a fleet follows the resumed state).
    this.recordAction(run, 'start', who, `canary ${run.config.upstream} of route ${route} started by ${who}`);
    if (resume) await this.resume(run);
    else {
      // The first step's weights refused: the canary is put back as it was (a "running"
      // canary at a share no worker has, and with no look to come, would say what is not).
      const refused = await this.begin(run).then(
        () => undefined,
        (err: Error) => err.message,
      );
      if (refused !== undefined) return this.#notStarted(run, before, refused);
    }
    return undefined;
  }

  /**
   * A canary route's sides weighed by hand (PUT /routes/split, a program's `apply`; `sides` the
   * weights in force after it): the operator took the wheel. The canary pauses at the share its
   * requests now get, so that its status tells that share and no step moves it until a start.
   * In a fleet it resolves once the fleet took that state: `moved` when another gateway's write
   * landed first (this gateway then goes back to the fleet's state, its workers too), `unshared`
   * when the store did not answer (the weights stay here, written to the fleet once it answers).
   * Undefined: the route has no canary (or a reload started it again meanwhile).
   */
  byHand(route: string, sides: readonly SplitSide[], who: string): Promise<ByHand | undefined> {
    const run = this.runs.get(route);
    if (run === undefined) return Promise.resolve(undefined);
    const weight = (upstream: string) => sides.find((s) => s.upstream === upstream)?.weight ?? 0;
    const total = weight(run.config.upstream) + weight(run.baseline);
    const share = total === 0 ? 0 : Math.round((10_000 * weight(run.config.upstream)) / total) / 100;
    const was = run.share;
    const done = run.busy.then(async (): Promise<ByHand | undefined> => {
      if (!this.current(run)) return undefined;
      this.stopTimer(run);
      // In a fleet, set over the fleet's state as it is now, as an operator's action is (act).
      await this.refresh(run);
      if (!this.current(run)) return undefined;
      // A look under way when the weights were set, or the fleet's state adopted just now, may
      // have moved the share since (a step, a verdict): the operator's weights stand.
      if (run.share !== was) await this.#handSides(run, sides);
      // Weights that leave a stopped canary (rolled back, promoted, held) at the share it has
      // change nothing it does: it keeps its phase, and the verdict or the hand that stopped it.
      if (run.phase !== 'running' && run.phase !== 'paused' && share === run.share) {
        this.follow(run);
        return { status: canaryStatusOf(run) };
      }
      const before = {
        phase: run.phase,
        step: run.step,
        share: run.share,
        reason: run.reason,
        failed: run.failedMetric,
      };
      // A canary rolled back, promoted or held has walked its steps: paused by hand, it is in
      // none, and a start begins again from the first (not at once at the step it stopped at).
      if (run.phase !== 'running' && run.phase !== 'paused') run.step = -1;
      toPhase(run, 'paused');
      run.share = share;
      run.reason = `share set by hand to ${share}% by ${who}`;
      run.failedMetric = null;
      this.publish(run);
      const published = await run.publishing;
      if (published === 'moved') {
        // Another gateway's write landed first: the weights are not the fleet's, and this gateway
        // follows the fleet's state again (its workers with it) rather than hold one no other has.
        toPhase(run, before.phase);
        run.step = before.step;
        run.share = before.share;
        run.reason = before.reason;
        run.failedMetric = before.failed;
        await this.refresh(run);
        await this.#handSides(run, sidesOf(run, run.share));
        this.follow(run);
        return {
          moved: `${movedFirst(run)}: the weights were not set; look again and try again`,
          status: canaryStatusOf(run),
        };
      }
      this.recordAction(
        run,
        'pause',
        who,
        `canary of route ${route} paused at ${share}%: its share set by hand by ${who}`,
        false,
      );
      this.follow(run);
      if (published === 'failed')
        return { unshared: run.fleetError ?? 'the state not written', status: canaryStatusOf(run) };
      return { status: canaryStatusOf(run) };
    });
    run.busy = done.then(
      () => {},
      () => {},
    );
    return done;
  }

  /**
   * A rollback or a promotion whose weights the workers refused (a reload took the route's split
   * away meanwhile): nothing changed but its looks, stopped for it, which go on.
   */
  #notGiven(run: Run, what: string, share: number, refused: string): { problem: string } {
    this.schedule(run);
    return {
      problem: `the canary of route "${run.route}" was not ${what}: its weights (${share}%) were not given to the workers (${refused}); it stays ${run.phase} at ${run.share}%`,
    };
  }

  /** A start whose first step's weights the workers refused: the canary as it was `before`, shared so again. */
  #notStarted(run: Run, before: Run, refused: string): { problem: string } {
    toPhase(run, before.phase);
    Object.assign(run, {
      step: before.step,
      share: before.share,
      startedAt: before.startedAt,
      ranMs: before.ranMs,
      reason: before.reason,
      failedMetric: before.failedMetric,
      looks: before.looks,
    });
    this.publish(run);
    this.host.logger.error(
      { route: run.route, canary: run.config.upstream, err: refused },
      'canary not started: its first step refused by the workers',
    );
    return {
      problem: `the canary of route "${run.route}" was not started: its first step's weights (${run.config.steps[0]}%) were not given to the workers (${refused}); it stays ${run.phase} at ${run.share}%`,
    };
  }

  /**
   * A start from the config whose weights the workers refused: paused, in no step, with why.
   * Left "running" at 0 % with no look to come, GET /canary and the status page said a canary
   * ran that never moved, and a `start` was refused as "already running". Paused, an operator
   * sees why and starts it (from the first step) once mended. Not shared with the fleet: the
   * refusal is this gateway's, and the fleet's state, adopted at the next look, is kept.
   */
  #failedToStart(run: Run, refused: string): void {
    this.stopTimer(run);
    toPhase(run, 'paused');
    run.step = -1;
    run.reason = `not started: its weights were not given to the workers (${refused})`;
    run.failedMetric = null;
    this.host.logger.error(
      { route: run.route, canary: run.config.upstream, share: run.share, err: refused },
      'canary failed to start',
    );
    this.recordAction(
      run,
      'pause',
      'canary',
      `canary of route ${run.route} paused at ${run.share}%: ${run.reason}`,
      false,
    );
    this.follow(run);
  }

  /** Sides sent to the workers for the weights set by hand (or put back): a failure is logged. */
  async #handSides(run: Run, sides: readonly SplitSide[]): Promise<void> {
    await this.host
      .setSides(run.route, sides)
      .catch((err: Error) =>
        this.host.logger.error(
          { route: run.route, err: err.message },
          'canary: the weights set by hand not applied again',
        ),
      );
  }

  close(): void {
    this.closed = true;
    this.kept?.close();
    for (const run of this.runs.values()) this.stopTimer(run);
  }
}
