import { StepLooks } from '../../upstream/canary/step-looks.ts';
import type { FleetState } from './canary-fleet.ts';
import { type Run, toPhase } from './canary-run.ts';
import { CanarySharedState } from './canary-shared-state.ts';

/**
 * A canary's steps and weights: the first step (or the fleet's canary joined), on from a pause,
 * each step's share, the looks scheduled every check_interval (the look itself is the judging's,
 * canary-judging.ts), and the two ends: rollback and promote.
 */
export abstract class CanarySteps extends CanarySharedState {
  /**
   * The first step: what counted before (at 0 %) is thrown away, then the share moves. In a
   * fleet, a canary already under way (another gateway started it) is joined where it is.
   */
  protected async begin(run: Run): Promise<void> {
    await this.host.window(run.route).catch(() => undefined);
    // A reload may have ended the run meanwhile (the route's canary gone, or started again).
    if (!this.current(run)) return;
    run.looks = new StepLooks(run.config);
    const fleet = this.fleet;
    // Alone, a verdict reached before a restart stands (kept-verdicts.ts).
    const kept = fleet === undefined ? this.kept?.read(run) : undefined;
    if (kept !== undefined) return this.#restore(run, kept);
    if (fleet !== undefined && run.seq === 0) {
      let unanswered = false;
      const state = await fleet.read(run.route).catch(() => {
        unanswered = true;
        return undefined;
      });
      if (!this.current(run)) return;
      if (this.ofRun(run, state)) {
        await this.adopt(run, state);
        return this.schedule(run);
      }
      // Its store not answering, the verdict this gateway kept stands until it answers (then
      // the fleet's is followed, at each look), rather than the first step again.
      const kept = unanswered ? this.kept?.read(run) : undefined;
      if (kept !== undefined) {
        await this.#restore(run, kept);
        return this.schedule(run);
      }
    }
    // Begun anew (not joined): what the fleet added before (an earlier run's) judges nothing.
    await fleet?.take(run.route).catch(() => undefined);
    if (!this.current(run)) return;
    // A start: written over the fleet's state (another canary's, or this one's before a rollback).
    await this.toStep(run, 0, undefined, true);
  }

  /** The verdict kept on disk, in force again: its share to the workers, its phase, step and reason. */
  async #restore(run: Run, kept: FleetState): Promise<void> {
    await this.setShare(run, kept.share);
    toPhase(run, kept.phase);
    run.step = kept.step;
    run.reason = kept.reason;
    run.failedMetric = kept.failedMetric;
    this.host.logger.info(
      { route: run.route, phase: kept.phase, share: kept.share, step: kept.step + 1, reason: kept.reason },
      'canary verdict kept from before the restart',
    );
  }

  /**
   * On from the step it paused at, judged on what it does from now: the step's counts so far
   * (those that paused it, if a verdict did, and the pause's own, still counted meanwhile) are
   * dropped, or a canary mended and started again would be paused again at once on them. A
   * share set by hand was put back to the step's by the operator's start (act) already.
   */
  protected async resume(run: Run): Promise<void> {
    await this.host.window(run.route).catch(() => undefined);
    await this.fleet?.take(run.route).catch(() => undefined);
    if (!this.current(run) || run.phase !== 'running') return;
    run.looks = new StepLooks(run.config);
    this.schedule(run);
  }

  /** `passed`: the step before it passed (counted as a `pass` verdict by the workers). */
  protected async toStep(
    run: Run,
    step: number,
    passed?: { verdict: 'pass'; metric: '' },
    start = false,
  ): Promise<void> {
    const share = run.config.steps[step];
    // At the step once the workers took its share: refused, the run stays where it was (its
    // look, rescheduled, tries again), never at a step whose share no worker has.
    await this.setShare(run, share, passed);
    run.step = step;
    run.looks = new StepLooks(run.config);
    const summary = `canary ${run.config.upstream} of route ${run.route} moved to ${share}% (step ${step + 1} of ${run.config.steps.length})`;
    this.host.logger.info(
      {
        route: run.route,
        canary: run.config.upstream,
        step: step + 1,
        steps: run.config.steps.length,
        share,
      },
      'canary step',
    );
    this.event(run, 'step', summary, { step: step + 1, share });
    this.publish(run, start);
    this.schedule(run);
  }

  protected schedule(run: Run): void {
    this.stopTimer(run);
    // A run a reload ended while it was being judged is not looked at again.
    if (!this.current(run)) return;
    // In a fleet every gateway keeps adding its counts and following the state, whatever its phase.
    if (run.phase !== 'running' && this.fleet === undefined) return;
    run.timer = setTimeout(() => {
      run.timer = undefined;
      run.busy = this.tick(run).then(
        () => this.follow(run),
        (err: Error) => {
          if (this.current(run))
            this.host.logger.error({ route: run.route, err: err.message }, 'canary step failed to run');
          this.schedule(run);
        },
      );
    }, run.config.checkInterval);
    run.timer.unref();
  }

  /**
   * In a fleet a gateway adds its counts and follows the fleet's state whatever its phase: after
   * a verdict or an operator's action here had stopped its looks, they go on (a gateway that
   * rolled back would miss another's start, and the fleet would hold two verdicts).
   */
  protected follow(run: Run): void {
    if (this.fleet !== undefined && run.timer === undefined && this.current(run)) this.schedule(run);
  }

  /**
   * The share to 0, then the canary rolled back (`metric`: the one that failed, for a verdict's).
   * Refused by the workers, it throws with the canary as it was (its looks stopped): the caller
   * says so (act) or looks again (a look's, rescheduled).
   */
  protected async rollback(run: Run, reason: string, who: string, metric?: string): Promise<void> {
    this.stopTimer(run);
    await this.setShare(run, 0, metric === undefined ? undefined : { verdict: 'worse', metric });
    toPhase(run, 'rolled_back');
    run.reason = reason;
    run.failedMetric = metric ?? null;
    this.recordAction(run, 'rollback', who, `canary of route ${run.route} rolled back to 0%: ${reason}`);
  }

  /** The share to 100, then the canary promoted; refused by the workers, it throws as rollback does. */
  protected async promote(run: Run, who: string): Promise<void> {
    this.stopTimer(run);
    await this.setShare(run, 100, who === 'canary' ? { verdict: 'pass', metric: '' } : undefined);
    toPhase(run, 'promoted');
    run.reason = who === 'canary' ? 'passed every step' : `promoted by ${who}`;
    run.failedMetric = null;
    this.recordAction(
      run,
      'promote',
      who,
      `canary ${run.config.upstream} of route ${run.route} promoted: it takes every request`,
    );
  }

  /** A look at the step (canary-judging.ts). */
  protected abstract tick(run: Run): Promise<void>;
}
