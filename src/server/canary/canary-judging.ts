import { judgedSteps } from '../../core/config/canary-promotion.ts';
import { formatP, type MetricVerdict } from '../../upstream/canary/judge.ts';
import { oneVoteAKey } from '../../upstream/canary/key-votes.ts';
import type { Look } from '../../upstream/canary/step-looks.ts';
import { lastVerdict, type Run, ranFor, sidesOf, toPhase } from './canary-run.ts';
import { CanarySteps } from './canary-steps.ts';

/** A look's judgement, too few to judge or judged. */
type Undecided = Extract<Look['judged'], { decided: false }>;
type Decided = Extract<Look['judged'], { decided: true }>;

/**
 * The judging: at each look the step's counts so far, canary against baseline (step-looks.ts):
 * worse with confidence fails the canary (on_failure) at that look; a pass moves it on at the
 * step's last look; too few requests past max_duration fail it too.
 */
export class CanaryJudging extends CanarySteps {
  /**
   * A look at the step (every check_interval): the counts since the last look join the step's,
   * and the step so far is judged (step-looks.ts). Worse: the canary fails now, whichever look it
   * is. A pass moves it on only at the step's last look; before, it runs on.
   */
  protected override async tick(run: Run): Promise<void> {
    const fleet = this.fleet;
    if (run.phase !== 'running' && fleet === undefined) return;
    let taken = await this.host.window(run.route);
    // One vote a key a step, however many of this gateway's workers counted it.
    if (taken !== undefined) oneVoteAKey(taken, run.looks.keys);
    if (fleet !== undefined) {
      let leading: boolean;
      try {
        leading = await this.withFleet(run, fleet, taken);
      } catch (err) {
        if (!this.current(run)) return;
        this.storeDown(run, err as Error);
        return this.#aloneTooLong(run);
      }
      if (!this.current(run)) return;
      if (!leading || run.phase !== 'running') return this.schedule(run);
      taken = await fleet.take(run.route);
    }
    // A reload may have ended the run while its counts were fetched: they judge nothing now.
    if (run.phase !== 'running' || !this.current(run)) return;
    const look = run.looks.look(taken);
    const judged = look.judged;
    run.last = lastVerdict(judged, look);
    if (!judged.decided) return this.#undecided(run, look, judged);
    if (judged.worse !== undefined) {
      const w = judged.worse;
      return this.#failed(
        run,
        `${w.metric} worse on the canary: ${w.canary} against ${w.baseline} on the baseline (${formatP(w.p)})`,
        w.metric,
        look,
        w,
      );
    }
    if (!look.last) return this.schedule(run);
    return this.#passed(run, look, judged);
  }

  /** Too few requests (or answers) to judge: failed past max_duration, else it runs on. */
  async #undecided(run: Run, look: Look, judged: Undecided): Promise<void> {
    // The time it ran, not since it started: a pause an operator (or a verdict) made does not count.
    // Short of the canary's answers (its requests failed): its latency is what is not known.
    const answers = judged.answers;
    const short =
      answers === undefined
        ? undefined
        : `the canary answered ${answers} of its ${judged.requests.canary} requests${judged.errors ? ` (and ${judged.errors} with a 5xx, which is no latency)` : ''}, ${run.config.minRequests} needed`;
    if (ranFor(run, performance.now()) >= run.config.maxDuration)
      return this.#failed(
        run,
        short === undefined
          ? `too few requests to judge within max_duration (${judged.requests.canary} canary, ${judged.requests.baseline} baseline, ${run.config.minRequests} needed)`
          : `too few answers to judge latency within max_duration: ${short}`,
        'max_duration',
        look,
      );
    // Said once a step's interval (at its end, and each interval after), not at every look.
    if (look.last && (look.index - look.planned) % look.planned === 0) {
      const summary = `canary ${run.config.upstream} of route ${run.route} not judged at ${run.share}%: ${short ?? `${judged.requests.canary} canary and ${judged.requests.baseline} baseline requests, ${run.config.minRequests} needed on each side`}`;
      this.host.logger.info(
        {
          route: run.route,
          share: run.share,
          requests: judged.requests,
          ...(answers === undefined ? {} : { answers }),
          min_requests: run.config.minRequests,
          look: look.index,
          looks: look.planned,
        },
        answers === undefined
          ? 'canary step not judged: too few requests'
          : 'canary step not judged: too few answers',
      );
      this.event(run, 'verdict', summary, { verdict: 'undecided', requests: judged.requests });
    }
    return this.schedule(run);
  }

  /** The step passed: on to the next step, or, after the last, promoted or held. */
  async #passed(run: Run, look: Look, judged: Decided): Promise<void> {
    // "No worse" than a baseline that is down (or nearly) shows nothing of the canary's health.
    const baselineFailed = (100 * judged.baselineFailed) / judged.requests.baseline;
    if (baselineFailed > run.config.baselineMaxFailedPercent)
      return this.#inconclusive(run, look, judged.baselineFailed, judged.requests.baseline);
    this.host.logger.info(
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
    this.event(
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
    // A last step of 100 is not judged (no baseline is left there): it is the promotion.
    if (run.step + 1 < judgedSteps(run.config.steps)) return this.toStep(run, run.step + 1, passed);
    if (run.config.onSuccess === 'promote') return this.promote(run, 'canary');
    toPhase(run, 'held');
    // The share stays: the sides are sent again only to carry the verdict to the workers.
    await this.setShare(run, run.share, passed);
    this.recordAction(
      run,
      'hold',
      'canary',
      `canary of route ${run.route} passed every step: held at ${run.share}%`,
    );
  }

  /**
   * Without its fleet's store no gateway judges (the counts are the fleet's): a running canary
   * would sit at its step forever. Past max_duration, this gateway rolls it back on its own, to
   * the safe side whatever `on_failure` says (it cannot tell what the others do); the rollback
   * is written over the fleet's state once the store answers, so it is not undone silently.
   */
  async #aloneTooLong(run: Run): Promise<void> {
    if (run.phase !== 'running' || ranFor(run, performance.now()) < run.config.maxDuration)
      return this.schedule(run);
    const reason = `max_duration (${run.config.maxDuration} ms) passed with the fleet's store unreachable (${run.fleetError}): rolled back on this gateway`;
    this.host.logger.warn(
      { route: run.route, canary: run.config.upstream, share: run.share, step: run.step + 1, reason },
      'canary rolled back: its fleet unreachable past max_duration',
    );
    await this.rollback(run, reason, 'canary', 'max_duration');
  }

  /**
   * A step that passed while the baseline failed more than baseline_max_failed_percent: the
   * canary pauses at its share (not moved on, not promoted, not rolled back: nothing shows it
   * worse), the reason says why; a `start` goes on from the step, judged on what comes from then.
   * The share is sent again to carry the verdict to the workers' count (`inconclusive`), as a
   * pause on a worse canary does: a dashboard on candor_canary_verdicts_total sees the pause.
   */
  async #inconclusive(run: Run, look: Look, failed: number, requests: number): Promise<void> {
    const figure = `${failed}/${requests} (${((100 * failed) / requests).toFixed(2)}%)`;
    const reason = `inconclusive: the baseline failed ${figure} of its requests, more than baseline_max_failed_percent (${run.config.baselineMaxFailedPercent}%); a canary no worse than it is not shown healthy`;
    this.host.logger.warn(
      {
        ...stoppedAt(run, look),
        baseline_figure: figure,
        action: 'pause',
        reason,
      },
      'canary inconclusive',
    );
    this.event(run, 'verdict', `canary ${run.config.upstream} of route ${run.route}: ${reason}`, {
      verdict: 'inconclusive',
      baseline: figure,
    });
    this.stopTimer(run);
    toPhase(run, 'paused');
    run.reason = reason;
    run.failedMetric = null;
    await this.host.setSides(run.route, sidesOf(run, run.share), { verdict: 'inconclusive', metric: '' });
    this.recordAction(
      run,
      'pause',
      'canary',
      `canary of route ${run.route} paused at ${run.share}%: ${reason}`,
    );
  }

  async #failed(
    run: Run,
    reason: string,
    metric: string,
    look: Look,
    verdict?: MetricVerdict,
  ): Promise<void> {
    this.host.logger.warn(
      {
        ...stoppedAt(run, look),
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
    this.event(run, 'verdict', `canary ${run.config.upstream} of route ${run.route}: ${reason}`, {
      verdict: 'worse',
      metric,
      ...(verdict === undefined ? {} : { canary: verdict.canary, baseline: verdict.baseline, p: verdict.p }),
    });
    if (run.config.onFailure === 'rollback') return this.rollback(run, reason, 'canary', metric);
    this.stopTimer(run);
    toPhase(run, 'paused');
    run.reason = reason;
    run.failedMetric = metric;
    await this.host.setSides(run.route, sidesOf(run, run.share), { verdict: 'worse', metric });
    this.recordAction(
      run,
      'pause',
      'canary',
      `canary of route ${run.route} paused at ${run.share}%: ${reason}`,
    );
  }
}

/**
 * Where a canary stopped, as its `canary worse` and `canary inconclusive` lines say: the route,
 * the canary, its share and step, and which look of the step saw it (one each check_interval) of
 * the step's planned looks.
 */
function stoppedAt(run: Run, look: Look) {
  return {
    route: run.route,
    canary: run.config.upstream,
    share: run.share,
    step: run.step + 1,
    look: look.index,
    looks: look.planned,
  };
}
