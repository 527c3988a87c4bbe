import type { CanaryConfig, GatewayConfig, SplitSide } from '../../core/config/types.ts';
import type { CanaryAction } from '../../observe/events/gateway-event.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { WindowCounts } from '../../upstream/canary/canary-window.ts';
import type { Judgement, MetricVerdict } from '../../upstream/canary/judge.ts';
import { type Look, StepLooks } from '../../upstream/canary/step-looks.ts';
import type { CanaryEventSink } from './canary-event.ts';
import type { CanaryFleet, CanaryPhase, FleetState } from './canary-fleet.ts';
import { canaryVersion } from './canary-version.ts';
import { type OperatorWord, operatorAction } from './operator-actions.ts';

/** What the controller needs from the gateway it runs in (the cluster primary, or a fleet's leader). */
export interface CanaryHost {
  /** The route's counts since the last call, every worker's (every gateway's, with a store) merged. */
  window(route: string): Promise<WindowCounts | undefined>;
  /** Gives the route's sides these weights in every worker; the verdict is for the workers' metric. */
  setSides(
    route: string,
    sides: readonly SplitSide[],
    verdict?: { verdict: 'pass' | 'worse'; metric: string },
  ): Promise<void>;
  readonly logger: Logger;
  readonly onEvent: CanaryEventSink;
}

/** A canary's state as GET /canary and the status page show it. */
export interface CanaryStatus {
  readonly route: string;
  readonly baseline: string;
  readonly canary: string;
  readonly phase: CanaryPhase;
  /** The canary's share now, in percent. */
  readonly share: number;
  /** 1-based; 0 before the first. */
  readonly step: number;
  readonly steps: readonly number[];
  readonly started_at: string;
  /** Why the canary stopped (the failing metric with both figures and the p-value, or who did it). */
  readonly reason: string | null;
  /** The metric a verdict stopped the canary on (rolled back or paused); null otherwise. */
  readonly failed_metric: string | null;
  /** The last look at the step's counts so far (judged, or still short of requests). */
  readonly last_verdict: {
    readonly at: string;
    /** Which look of the step it was (one each check_interval), of the step's planned looks. */
    readonly look: number;
    readonly looks: number;
    readonly decided: boolean;
    readonly requests: { canary: number; baseline: number };
    readonly metrics: readonly MetricVerdict[];
  } | null;
  /** The latest actions, newest last (bounded). */
  readonly actions: readonly { at: string; action: CanaryAction; who: string; summary: string }[];
  /**
   * In a fleet, why its store (`store.redis`) does not answer, while it does not: this gateway
   * then keeps its state on its own (and rolls back at max_duration); null otherwise.
   */
  readonly fleet_error: string | null;
}

const ACTIONS_KEPT = 20;

interface Run {
  readonly route: string;
  readonly baseline: string;
  readonly config: CanaryConfig;
  /** Set through toPhase only: it keeps the time the canary ran (ranMs, runningSince). */
  phase: CanaryPhase;
  /** Index into config.steps; -1 before the first step. */
  step: number;
  share: number;
  startedAt: number;
  /**
   * Milliseconds the canary ran (phase running) since it started, up to its last pause: what
   * max_duration bounds, so a pause, however long, is not held against it once started again.
   */
  ranMs: number;
  /** When it last went running (performance.now()); read only while running. */
  runningSince: number;
  /** The current step's counts and looks (a new one at each step). */
  looks: StepLooks;
  reason: string | null;
  failedMetric: string | null;
  last: CanaryStatus['last_verdict'];
  actions: { at: string; action: CanaryAction; who: string; summary: string }[];
  timer: NodeJS.Timeout | undefined;
  /** A tick in progress: an action waits for it, so a verdict and a click never cross. */
  busy: Promise<void>;
  /** The version of the fleet's state this run holds (adopted or written by it); 0 before any. */
  seq: number;
  /** The canary's settings and targets, hashed (canary-version.ts): a state of another is not joined. */
  readonly version: string;
  /** Its state changed here and was not written to the fleet (the store did not answer): written at the next look. */
  unshared: boolean;
  /** The writes to the fleet, one after the other; resolves to the outcome of the latest. */
  publishing: Promise<Published>;
  /** Why the fleet's store does not answer, while it does not (CanaryStatus.fleet_error). */
  fleetError: string | null;
}

/** Why an operator's write was refused: another gateway's state reached the fleet first. */
function movedFirst(run: Run): string {
  return `the fleet's canary of route "${run.route}" changed on another gateway meanwhile (now ${run.phase} at ${run.share}%)`;
}

/** What became of a state written to the fleet: written, refused (the fleet moved first), or not sent. */
type Published = 'written' | 'moved' | 'failed' | 'none';

/**
 * A share set by hand, once the fleet answered (CanaryController.byHand): taken, refused
 * (`moved`: why, for a 409), or in force on this gateway only (`unshared`: the store's error).
 */
export type ByHand =
  | { readonly status: CanaryStatus }
  | { readonly moved: string; readonly status: CanaryStatus }
  | { readonly unshared: string; readonly status: CanaryStatus };

/**
 * The canary controller: for each route with a canary, moves its share step by step and
 * looks at each step's counts every check_interval, canary against baseline (step-looks.ts).
 * Worse with confidence: rollback (the share to 0 at once) or pause, at that look; every step
 * passed at its end: promote (the canary takes everything) or hold. Operators start, pause,
 * roll back and promote through the admin API. Each step, verdict and action is one log line
 * and one event (canary-event.ts), the actions named alike everywhere (CANARY_ACTIONS).
 */
export class CanaryController {
  readonly #host: CanaryHost;
  readonly #runs = new Map<string, Run>();
  /** With `store.redis`: the fleet's counts, lease and state (canary-fleet.ts); undefined: this gateway alone. */
  #fleet: CanaryFleet | undefined;
  #closed = false;

  constructor(host: CanaryHost) {
    this.#host = host;
  }

  /**
   * The config in force (at start and after each reload) and the fleet it is judged with (see
   * FleetOfConfig): a canary that appears starts, one that is gone stops, one whose canary
   * upstream or steps changed starts again; others run on. With another fleet (one opened,
   * closed, or on another store) every canary starts again, as a start with this config does:
   * it joins the fleet's canary under way, or begins one.
   */
  sync(config: GatewayConfig, fleet: CanaryFleet | undefined): void {
    if (fleet !== this.#fleet) {
      for (const run of this.#runs.values()) this.#stopTimer(run);
      this.#runs.clear();
      this.#fleet = fleet;
    }
    const wanted = new Map(
      config.routes.flatMap((r) =>
        r.canary !== undefined && r.upstream !== undefined
          ? [[r.name, { route: r, canary: r.canary }] as const]
          : [],
      ),
    );
    for (const [name, run] of this.#runs) {
      const next = wanted.get(name);
      // Its targets too: new ones under the canary's upstream name are a new version to judge,
      // not one promoted already.
      if (
        next !== undefined &&
        next.route.upstream === run.baseline &&
        canaryVersion(next.canary, config.upstreams[next.canary.upstream]) === run.version
      )
        continue;
      this.#stopTimer(run);
      this.#runs.delete(name);
    }
    for (const [name, { route, canary }] of wanted) {
      if (this.#runs.has(name)) continue;
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
      this.#runs.set(name, run);
      // Not shared: in a fleet the canary may be under way already, and #begin joins it.
      this.#act(run, 'start', 'config', `canary ${canary.upstream} of route ${name} started`, false);
      // A start that fails (the workers' sides not set: a reload removed the route meanwhile)
      // is logged, never left a rejection nobody handles, which would end the process.
      run.busy = this.#begin(run).catch((err: Error) => {
        if (this.#current(run))
          this.#host.logger.error({ route: run.route, err: err.message }, 'canary failed to start');
      });
    }
  }

  status(): CanaryStatus[] {
    return [...this.#runs.values()].map((run) => ({
      route: run.route,
      baseline: run.baseline,
      canary: run.config.upstream,
      phase: run.phase,
      share: run.share,
      step: run.step + 1,
      steps: run.config.steps,
      started_at: new Date(run.startedAt).toISOString(),
      reason: run.reason,
      failed_metric: run.failedMetric,
      last_verdict: run.last,
      actions: run.actions,
      fleet_error: run.fleetError,
    }));
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
    const run = this.#runs.get(route);
    if (run === undefined) return { problem: `route "${route}" has no canary` };
    await run.busy;
    // A reload may have started the canary again meanwhile: the action was meant for the run it saw.
    if (!this.#current(run))
      return { problem: `the canary of route "${route}" was started again by a reload: try again` };
    const done = async (): Promise<{ problem: string } | { status: CanaryStatus }> => {
      // In a fleet, acted on where the fleet's canary is now, not where this gateway's last look saw it.
      await this.#refresh(run);
      if (action === 'start') {
        if (run.phase === 'running') return { problem: `the canary of route "${route}" is already running` };
        const resume = run.phase === 'paused' && run.step >= 0;
        run.reason = null;
        run.failedMetric = null;
        if (!resume) {
          run.step = -1;
          run.startedAt = Date.now();
          run.ranMs = 0;
        }
        // On from its step at the step's share: a share set by hand was the operator's while it
        // was paused (one of 0 or 100 % would leave a side nothing to be judged on).
        const handShare = resume && run.share !== run.config.steps[run.step];
        if (resume) run.share = run.config.steps[run.step];
        toPhase(run, 'running');
        // Logged and shared with the phase already running (a fleet follows the resumed state).
        this.#act(run, 'start', who, `canary ${run.config.upstream} of route ${route} started by ${who}`);
        if (resume) await this.#resume(run, handShare);
        else await this.#begin(run);
      } else if (action === 'pause') {
        if (run.phase !== 'running')
          return { problem: `the canary of route "${route}" is not running (${run.phase})` };
        this.#stopTimer(run);
        toPhase(run, 'paused');
        run.reason = `paused by ${who}`;
        this.#act(run, 'pause', who, `canary of route ${route} paused at ${run.share}% by ${who}`);
      } else if (action === 'rollback') {
        if (run.phase === 'rolled_back')
          return { problem: `the canary of route "${route}" is already rolled back` };
        // The operator's stop, not a verdict's (one that paused it before): no failed metric.
        run.failedMetric = null;
        await this.#rollback(run, `rolled back by ${who}`, who);
      } else {
        if (run.phase === 'promoted')
          return { problem: `the canary of route "${route}" is already promoted` };
        run.failedMetric = null;
        await this.#promote(run, who);
      }
      this.#follow(run);
      if ((await run.publishing) === 'moved') {
        // Another gateway changed the fleet's canary first: the action is not the fleet's, and this
        // gateway follows the fleet again rather than hold a state no other gateway has.
        await this.#refresh(run);
        return {
          problem: `${movedFirst(run)}: look again and try again`,
        };
      }
      return { status: this.#statusOf(run) };
    };
    const result = done();
    run.busy = result.then(
      () => {},
      () => {},
    );
    return result;
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
    const run = this.#runs.get(route);
    if (run === undefined) return Promise.resolve(undefined);
    const weight = (upstream: string) => sides.find((s) => s.upstream === upstream)?.weight ?? 0;
    const total = weight(run.config.upstream) + weight(run.baseline);
    const share = total === 0 ? 0 : Math.round((10_000 * weight(run.config.upstream)) / total) / 100;
    const was = run.share;
    const done = run.busy.then(async (): Promise<ByHand | undefined> => {
      if (!this.#current(run)) return undefined;
      this.#stopTimer(run);
      // In a fleet, set over the fleet's state as it is now, as an operator's action is (act).
      await this.#refresh(run);
      if (!this.#current(run)) return undefined;
      // A look under way when the weights were set, or the fleet's state adopted just now, may
      // have moved the share since (a step, a verdict): the operator's weights stand.
      if (run.share !== was) await this.#handSides(run, sides);
      // Weights that leave a stopped canary (rolled back, promoted, held) at the share it has
      // change nothing it does: it keeps its phase, and the verdict or the hand that stopped it.
      if (run.phase !== 'running' && run.phase !== 'paused' && share === run.share) {
        this.#follow(run);
        return { status: this.#statusOf(run) };
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
      this.#publish(run);
      const published = await run.publishing;
      if (published === 'moved') {
        // Another gateway's write landed first: the weights are not the fleet's, and this gateway
        // follows the fleet's state again (its workers with it) rather than hold one no other has.
        toPhase(run, before.phase);
        run.step = before.step;
        run.share = before.share;
        run.reason = before.reason;
        run.failedMetric = before.failed;
        await this.#refresh(run);
        await this.#handSides(run, sidesOf(run, run.share));
        this.#follow(run);
        return {
          moved: `${movedFirst(run)}: the weights were not set; look again and try again`,
          status: this.#statusOf(run),
        };
      }
      this.#act(
        run,
        'pause',
        who,
        `canary of route ${route} paused at ${share}%: its share set by hand by ${who}`,
        false,
      );
      this.#follow(run);
      if (published === 'failed')
        return { unshared: run.fleetError ?? 'the state not written', status: this.#statusOf(run) };
      return { status: this.#statusOf(run) };
    });
    run.busy = done.then(
      () => {},
      () => {},
    );
    return done;
  }

  /** Sides sent to the workers for the weights set by hand (or put back): a failure is logged. */
  async #handSides(run: Run, sides: readonly SplitSide[]): Promise<void> {
    await this.#host
      .setSides(run.route, sides)
      .catch((err: Error) =>
        this.#host.logger.error(
          { route: run.route, err: err.message },
          'canary: the weights set by hand not applied again',
        ),
      );
  }

  #statusOf(run: Run): CanaryStatus {
    return this.status().find((s) => s.route === run.route) as CanaryStatus;
  }

  close(): void {
    this.#closed = true;
    for (const run of this.#runs.values()) this.#stopTimer(run);
  }

  // ── the steps ───────────────────────────────────────────────────────────────────

  /**
   * The first step: what counted before (at 0 %) is thrown away, then the share moves. In a
   * fleet, a canary already under way (another gateway started it) is joined where it is.
   */
  async #begin(run: Run): Promise<void> {
    await this.#host.window(run.route).catch(() => undefined);
    // A reload may have ended the run meanwhile (the route's canary gone, or started again).
    if (!this.#current(run)) return;
    run.looks = new StepLooks(run.config);
    const fleet = this.#fleet;
    if (fleet !== undefined && run.seq === 0) {
      const state = await fleet.read(run.route).catch(() => undefined);
      if (!this.#current(run)) return;
      if (this.#ofRun(run, state)) {
        await this.#adopt(run, state);
        return this.#schedule(run);
      }
    }
    // Begun anew (not joined): what the fleet added before (an earlier run's) judges nothing.
    await fleet?.take(run.route).catch(() => undefined);
    if (!this.#current(run)) return;
    // A start: written over the fleet's state (another canary's, or this one's before a rollback).
    await this.#toStep(run, 0, undefined, true);
  }

  /** Whether a fleet's state is of this run's canary: the same upstream, and the same version of it. */
  #ofRun(run: Run, state: FleetState | undefined): state is FleetState {
    return (
      state !== undefined &&
      state.canary === run.config.upstream &&
      (state.of === undefined || state.of === run.version)
    );
  }

  /**
   * The fleet's state adopted now if newer (before an operator's action, and after one the fleet
   * refused). A store that does not answer leaves this gateway's state as it is.
   */
  async #refresh(run: Run): Promise<void> {
    const fleet = this.#fleet;
    if (fleet === undefined || run.unshared) return;
    await run.publishing;
    const state = await fleet.read(run.route).catch(() => undefined);
    if (this.#current(run)) await this.#adopt(run, state);
  }

  /**
   * On from the step it paused at, judged on what it does from now: the step's counts so far
   * (those that paused it, if a verdict did, and the pause's own, still counted meanwhile) are
   * dropped, or a canary mended and started again would be paused again at once on them.
   * `handShare`: its share was set by hand: the step's goes to the workers first.
   */
  async #resume(run: Run, handShare: boolean): Promise<void> {
    if (handShare) await this.#host.setSides(run.route, sidesOf(run, run.share));
    await this.#host.window(run.route).catch(() => undefined);
    await this.#fleet?.take(run.route).catch(() => undefined);
    if (!this.#current(run) || run.phase !== 'running') return;
    run.looks = new StepLooks(run.config);
    this.#schedule(run);
  }

  /** The fleet's state when it is newer than this gateway's: its share goes to this gateway's workers. */
  async #adopt(run: Run, state: FleetState | undefined): Promise<void> {
    // A change of its own not yet written (the store did not answer) is written first (#tick).
    if (!this.#ofRun(run, state) || state.seq <= run.seq || run.unshared) return;
    run.seq = state.seq;
    if (state.phase !== 'running') this.#stopTimer(run);
    const moved = state.share !== run.share;
    // A new step, or a start on another gateway after a pause: judged on what comes from now (#resume).
    if (state.step !== run.step || (state.phase === 'running' && run.phase !== 'running'))
      run.looks = new StepLooks(run.config);
    // Started anew on another gateway (not on from a pause): its time runs from now here too.
    if (state.phase === 'running' && run.phase !== 'running' && (run.phase !== 'paused' || run.step < 0)) {
      run.startedAt = Date.now();
      run.ranMs = 0;
    }
    toPhase(run, state.phase);
    run.step = state.step;
    run.reason = state.reason;
    run.failedMetric = state.failedMetric;
    if (moved) await this.#setShare(run, state.share);
    this.#host.logger.info(
      { route: run.route, phase: state.phase, share: state.share, step: state.step + 1, seq: state.seq },
      'canary adopted from the fleet',
    );
  }

  /**
   * This gateway's state becomes the fleet's (a verdict of the leader, or an operator's action
   * here), if the fleet's is still the one it was decided on (run.seq): a step or an action
   * decided before another gateway's rollback never overwrites it. A rollback is written over
   * whatever is there (`forced`): the safe side. Writes go one after the other (run.publishing);
   * one the store did not take is written again at the next look (#tick).
   */
  #publish(run: Run, forced = run.phase === 'rolled_back'): void {
    const fleet = this.#fleet;
    if (fleet === undefined) return;
    const state: Omit<FleetState, 'seq'> = {
      canary: run.config.upstream,
      of: run.version,
      phase: run.phase,
      step: run.step,
      share: run.share,
      reason: run.reason,
      failedMetric: run.failedMetric,
    };
    const ttl = Math.max(2 * run.config.maxDuration, 3_600_000);
    run.publishing = run.publishing.then(async (): Promise<Published> => {
      try {
        const outcome = await fleet.publish(run.route, state, { base: run.seq, forced }, ttl);
        run.unshared = false;
        if ('written' in outcome) {
          run.seq = outcome.written;
          return 'written';
        }
        this.#host.logger.info(
          { route: run.route, phase: state.phase, share: state.share, fleet_seq: outcome.moved?.seq },
          "canary state not shared: the fleet's changed first on another gateway (this gateway follows it)",
        );
        return 'moved';
      } catch (err) {
        // Written again at the next look, as what it is then: a rollback over whatever is there,
        // anything else only over the state it was decided on (a gateway that began a canary
        // while the store was down joins the fleet's, if it has one, once it answers).
        run.unshared = true;
        // Said once an outage (its retries, one a look, are not): #storeDown says when it ends.
        if (run.fleetError === null)
          this.#host.logger.warn(
            { route: run.route, phase: state.phase, share: state.share, err: (err as Error).message },
            'canary state not shared with the fleet: written again once its store answers',
          );
        this.#storeDown(run, err as Error);
        return 'failed';
      }
    });
  }

  /** `passed`: the step before it passed (counted as a `pass` verdict by the workers). */
  async #toStep(
    run: Run,
    step: number,
    passed?: { verdict: 'pass'; metric: '' },
    start = false,
  ): Promise<void> {
    run.step = step;
    run.looks = new StepLooks(run.config);
    const share = run.config.steps[step];
    await this.#setShare(run, share, passed);
    const summary = `canary ${run.config.upstream} of route ${run.route} moved to ${share}% (step ${step + 1} of ${run.config.steps.length})`;
    this.#host.logger.info(
      {
        route: run.route,
        canary: run.config.upstream,
        step: step + 1,
        steps: run.config.steps.length,
        share,
      },
      'canary step',
    );
    this.#event(run, 'step', summary, { step: step + 1, share });
    this.#publish(run, start);
    this.#schedule(run);
  }

  #schedule(run: Run): void {
    this.#stopTimer(run);
    // A run a reload ended while it was being judged is not looked at again.
    if (!this.#current(run)) return;
    // In a fleet every gateway keeps adding its counts and following the state, whatever its phase.
    if (run.phase !== 'running' && this.#fleet === undefined) return;
    run.timer = setTimeout(() => {
      run.timer = undefined;
      run.busy = this.#tick(run).then(
        () => this.#follow(run),
        (err: Error) => {
          if (this.#current(run))
            this.#host.logger.error({ route: run.route, err: err.message }, 'canary step failed to run');
          this.#schedule(run);
        },
      );
    }, run.config.checkInterval);
    run.timer.unref();
  }

  /**
   * A look at the step (every check_interval): the counts since the last look join the step's,
   * and the step so far is judged (step-looks.ts). Worse: the canary fails now, whichever look it
   * is. A pass moves it on only at the step's last look; before, it runs on.
   */
  async #tick(run: Run): Promise<void> {
    const fleet = this.#fleet;
    if (run.phase !== 'running' && fleet === undefined) return;
    let taken = await this.#host.window(run.route);
    if (fleet !== undefined) {
      let leading: boolean;
      try {
        leading = await this.#withFleet(run, fleet, taken);
      } catch (err) {
        if (!this.#current(run)) return;
        this.#storeDown(run, err as Error);
        return this.#aloneTooLong(run);
      }
      if (!this.#current(run)) return;
      if (!leading || run.phase !== 'running') return this.#schedule(run);
      taken = await fleet.take(run.route);
    }
    // A reload may have ended the run while its counts were fetched: they judge nothing now.
    if (run.phase !== 'running' || !this.#current(run)) return;
    const look = run.looks.look(taken);
    const judged = look.judged;
    run.last = lastVerdict(judged, look);
    if (!judged.decided) {
      // The time it ran, not since it started: a pause an operator (or a verdict) made does not count.
      if (ranFor(run, performance.now()) >= run.config.maxDuration)
        return this.#failed(
          run,
          `too few requests to judge within max_duration (${judged.requests.canary} canary, ${judged.requests.baseline} baseline, ${run.config.minRequests} needed)`,
          'max_duration',
          look,
        );
      // Said once a step's interval (at its end, and each interval after), not at every look.
      if (look.last && (look.index - look.planned) % look.planned === 0) {
        const summary = `canary ${run.config.upstream} of route ${run.route} not judged at ${run.share}%: ${judged.requests.canary} canary and ${judged.requests.baseline} baseline requests, ${run.config.minRequests} needed on each side`;
        this.#host.logger.info(
          {
            route: run.route,
            share: run.share,
            requests: judged.requests,
            min_requests: run.config.minRequests,
            look: look.index,
            looks: look.planned,
          },
          'canary step not judged: too few requests',
        );
        this.#event(run, 'verdict', summary, { verdict: 'undecided', requests: judged.requests });
      }
      return this.#schedule(run);
    }
    if (judged.worse !== undefined) {
      const w = judged.worse;
      return this.#failed(
        run,
        `${w.metric} worse on the canary: ${w.canary} against ${w.baseline} on the baseline (p = ${formatP(w.p)})`,
        w.metric,
        look,
        w,
      );
    }
    if (!look.last) return this.#schedule(run);
    this.#host.logger.info(
      {
        route: run.route,
        share: run.share,
        requests: judged.requests,
        verdict: 'pass',
        look: look.index,
        looks: look.planned,
      },
      'canary step passed',
    );
    this.#event(
      run,
      'verdict',
      `canary ${run.config.upstream} of route ${run.route} passed at ${run.share}%`,
      {
        verdict: 'pass',
        requests: judged.requests,
      },
    );
    // Every step passed is one `pass` in the workers' verdict count, whatever follows it.
    const passed = { verdict: 'pass', metric: '' } as const;
    if (run.step + 1 < run.config.steps.length) return this.#toStep(run, run.step + 1, passed);
    if (run.config.onSuccess === 'promote') return this.#promote(run, 'canary');
    toPhase(run, 'held');
    // The share stays: the sides are sent again only to carry the verdict to the workers.
    await this.#setShare(run, run.share, passed);
    this.#act(run, 'hold', 'canary', `canary of route ${run.route} passed every step: held at ${run.share}%`);
  }

  /**
   * A look's work with the fleet: this gateway's change the store had not taken is written first,
   * its counts are added, the lease taken or kept, the fleet's state adopted if newer. Whether
   * this gateway leads (judges the fleet's counts); throws when the store does not answer.
   */
  async #withFleet(run: Run, fleet: CanaryFleet, taken: WindowCounts | undefined): Promise<boolean> {
    await run.publishing;
    if (run.unshared) {
      this.#publish(run);
      if ((await run.publishing) === 'failed') throw new Error(run.fleetError ?? 'the state not written');
    }
    // Every gateway adds its counts; the lease holder judges the fleet's, the others follow.
    const lease = Math.max(3 * run.config.checkInterval, 3_000);
    // Counts are shared while the canary runs, those of a request only: the leader takes
    // nothing while it is stopped, and the windows of a canary rolled back or promoted (its
    // baseline's or its own requests, every look) would pile up to be judged at its next start.
    if (run.phase === 'running' && taken !== undefined && taken.canary.requests + taken.baseline.requests > 0)
      await fleet.share(run.route, taken, lease * 4);
    const leading = await fleet.lead(run.route, lease);
    const state = await fleet.read(run.route);
    if (run.fleetError !== null) {
      this.#host.logger.info({ route: run.route }, 'canary fleet store answers again: following the fleet');
      run.fleetError = null;
    }
    if (this.#current(run)) await this.#adopt(run, state);
    return leading;
  }

  /** The fleet's store did not answer: said once until it answers again (the status tells it meanwhile). */
  #storeDown(run: Run, err: Error): void {
    if (run.fleetError === null)
      this.#host.logger.warn(
        { route: run.route, phase: run.phase, share: run.share, err: err.message },
        'canary fleet store unreachable: this gateway keeps its state (a running canary is rolled back here at max_duration)',
      );
    run.fleetError = err.message;
  }

  /**
   * Without its fleet's store no gateway judges (the counts are the fleet's): a running canary
   * would sit at its step forever. Past max_duration, this gateway rolls it back on its own, to
   * the safe side whatever `on_failure` says (it cannot tell what the others do); the rollback
   * is written over the fleet's state once the store answers, so it is not undone silently.
   */
  async #aloneTooLong(run: Run): Promise<void> {
    if (run.phase !== 'running' || ranFor(run, performance.now()) < run.config.maxDuration)
      return this.#schedule(run);
    const reason = `max_duration (${run.config.maxDuration} ms) passed with the fleet's store unreachable (${run.fleetError}): rolled back on this gateway`;
    this.#host.logger.warn(
      { route: run.route, canary: run.config.upstream, share: run.share, step: run.step + 1, reason },
      'canary rolled back: its fleet unreachable past max_duration',
    );
    run.failedMetric = 'max_duration';
    await this.#rollback(run, reason, 'canary', 'max_duration');
  }

  async #failed(
    run: Run,
    reason: string,
    metric: string,
    look: Look,
    verdict?: MetricVerdict,
  ): Promise<void> {
    this.#host.logger.warn(
      {
        route: run.route,
        canary: run.config.upstream,
        share: run.share,
        step: run.step + 1,
        // Which look of the step saw it (one each check_interval), of the step's planned looks.
        look: look.index,
        looks: look.planned,
        metric,
        ...(verdict === undefined
          ? {}
          : {
              canary_figure: verdict.canary,
              baseline_figure: verdict.baseline,
              p_value: verdict.p,
              alpha: look.alpha / run.config.compare.length,
            }),
        action: run.config.onFailure,
        reason,
      },
      'canary worse',
    );
    this.#event(run, 'verdict', `canary ${run.config.upstream} of route ${run.route}: ${reason}`, {
      verdict: 'worse',
      metric,
      ...(verdict === undefined ? {} : { canary: verdict.canary, baseline: verdict.baseline, p: verdict.p }),
    });
    run.failedMetric = metric;
    if (run.config.onFailure === 'rollback') return this.#rollback(run, reason, 'canary', metric);
    this.#stopTimer(run);
    toPhase(run, 'paused');
    run.reason = reason;
    await this.#host.setSides(run.route, sidesOf(run, run.share), { verdict: 'worse', metric });
    this.#act(run, 'pause', 'canary', `canary of route ${run.route} paused at ${run.share}%: ${reason}`);
  }

  async #rollback(run: Run, reason: string, who: string, metric?: string): Promise<void> {
    this.#stopTimer(run);
    toPhase(run, 'rolled_back');
    run.reason = reason;
    await this.#setShare(run, 0, metric === undefined ? undefined : { verdict: 'worse', metric });
    this.#act(run, 'rollback', who, `canary of route ${run.route} rolled back to 0%: ${reason}`);
  }

  async #promote(run: Run, who: string): Promise<void> {
    this.#stopTimer(run);
    toPhase(run, 'promoted');
    run.reason = who === 'canary' ? 'passed every step' : `promoted by ${who}`;
    await this.#setShare(run, 100, who === 'canary' ? { verdict: 'pass', metric: '' } : undefined);
    this.#act(
      run,
      'promote',
      who,
      `canary ${run.config.upstream} of route ${run.route} promoted: it takes every request`,
    );
  }

  async #setShare(
    run: Run,
    share: number,
    verdict?: { verdict: 'pass' | 'worse'; metric: string },
  ): Promise<void> {
    run.share = share;
    await this.#host.setSides(run.route, sidesOf(run, share), verdict);
  }

  #act(run: Run, action: CanaryAction, who: string, summary: string, share = true): void {
    if (share) this.#publish(run);
    const at = new Date().toISOString();
    run.actions.push({ at, action, who, summary });
    if (run.actions.length > ACTIONS_KEPT) run.actions.shift();
    this.#host.logger.info({ route: run.route, action, who, share: run.share, summary }, 'canary action');
    this.#event(run, 'action', summary, {
      action,
      who,
      share: run.share,
      ...(run.reason === null ? {} : { reason: run.reason }),
    });
  }

  #event(
    run: Run,
    what: 'step' | 'verdict' | 'action',
    summary: string,
    fields: Record<string, unknown>,
  ): void {
    try {
      this.#host.onEvent({
        kind: 'canary',
        at: Date.now(),
        route: run.route,
        upstream: run.config.upstream,
        share: run.share,
        what,
        summary,
        fields,
      });
    } catch {
      // A sink's bug must not stop a rollback.
    }
  }

  /** Whether the run is still the route's (no reload ended it) and the controller runs. */
  #current(run: Run): boolean {
    return !this.#closed && this.#runs.get(run.route) === run;
  }

  /**
   * In a fleet a gateway adds its counts and follows the fleet's state whatever its phase: after
   * a verdict or an operator's action here had stopped its looks, they go on (a gateway that
   * rolled back would miss another's start, and the fleet would hold two verdicts).
   */
  #follow(run: Run): void {
    if (this.#fleet !== undefined && run.timer === undefined && this.#current(run)) this.#schedule(run);
  }

  #stopTimer(run: Run): void {
    if (run.timer !== undefined) clearTimeout(run.timer);
    run.timer = undefined;
  }
}

/** The one writer of a run's phase: the time it ran is kept as it goes running and stops. */
function toPhase(run: Run, phase: CanaryPhase): void {
  const now = performance.now();
  if (run.phase === 'running' && phase !== 'running') run.ranMs += now - run.runningSince;
  else if (run.phase !== 'running' && phase === 'running') run.runningSince = now;
  run.phase = phase;
}

/** Milliseconds the canary ran since it started (see Run.ranMs). */
function ranFor(run: Run, now: number): number {
  return run.ranMs + (run.phase === 'running' ? now - run.runningSince : 0);
}

function sidesOf(run: Run, share: number): SplitSide[] {
  return [
    { upstream: run.config.upstream, weight: share },
    { upstream: run.baseline, weight: 100 - share },
  ];
}

function lastVerdict(judged: Judgement, look: Look): CanaryStatus['last_verdict'] {
  return {
    at: new Date().toISOString(),
    look: look.index,
    looks: look.planned,
    decided: judged.decided,
    requests: judged.requests,
    metrics: judged.decided ? judged.metrics : [],
  };
}

/** A p-value as a person reads it: four significant digits, or "< 1e-12". */
export function formatP(p: number): string {
  return p < 1e-12 ? '< 1e-12' : p.toPrecision(4);
}
