import type { CanaryAction } from '../../observe/events/gateway-event.ts';
import type { WindowCounts } from '../../upstream/canary/canary-window.ts';
import { StepLooks } from '../../upstream/canary/step-looks.ts';
import type { CanaryFleet, FleetState } from './canary-fleet.ts';
import { ACTIONS_KEPT, type Published, type Run, sharedState, toPhase } from './canary-run.ts';
import { CanaryRuns } from './canary-runs.ts';

/**
 * A canary's state shared with its fleet (`store.redis`, canary-fleet.ts): written after each
 * change here (over the state it was decided on), adopted when another gateway's is newer, the
 * counts added at each look; and each action recorded (a log line, an event, the status's list).
 */
export class CanarySharedState extends CanaryRuns {
  /** Whether a fleet's state is of this run's canary: the same upstream, and the same version of it. */
  protected ofRun(run: Run, state: FleetState | undefined): state is FleetState {
    return (
      state !== undefined &&
      state.canary === run.config.upstream &&
      (state.of === undefined || state.of === run.version) &&
      // A step this canary does not have is no state of it (stateOf checked the rest).
      state.step < run.config.steps.length
    );
  }

  /**
   * The fleet's state adopted now if newer (before an operator's action, and after one the fleet
   * refused). A store that does not answer leaves this gateway's state as it is.
   */
  protected async refresh(run: Run): Promise<void> {
    const fleet = this.fleet;
    if (fleet === undefined || run.unshared) return;
    await run.publishing;
    const state = await fleet.read(run.route).catch(() => undefined);
    if (this.current(run)) await this.adopt(run, state);
  }

  /** The fleet's state when it is newer than this gateway's: its share goes to this gateway's workers. */
  protected async adopt(run: Run, state: FleetState | undefined): Promise<void> {
    // A change of its own not yet written (the store did not answer) is written first (#tick).
    if (!this.ofRun(run, state) || state.seq <= run.seq || run.unshared) return;
    run.seq = state.seq;
    if (state.phase !== 'running') this.stopTimer(run);
    const moved = state.share !== run.share;
    // A new step, or a start on another gateway after a pause: judged on what comes from now (#resume).
    if (state.step !== run.step || (state.phase === 'running' && run.phase !== 'running'))
      run.looks = new StepLooks(run.config);
    // Started anew on another gateway (not on from a pause): its time runs from now here too.
    const starts = state.phase === 'running' && run.phase !== 'running';
    if (starts && (run.phase !== 'paused' || run.step < 0)) {
      run.startedAt = Date.now();
      run.ranMs = 0;
    }
    // Started again with no time left (max_duration paused it): max_duration again, as on the gateway it was started on.
    if (starts && run.phase === 'paused' && run.ranMs >= run.config.maxDuration) run.ranMs = 0;
    toPhase(run, state.phase);
    run.step = state.step;
    run.reason = state.reason;
    run.failedMetric = state.failedMetric;
    if (moved) await this.setShare(run, state.share);
    this.kept?.keep(run);
    this.host.logger.info(
      { route: run.route, phase: state.phase, share: state.share, step: state.step + 1, seq: state.seq },
      'canary adopted from the fleet',
    );
  }

  /**
   * This gateway's state becomes the fleet's (a verdict of the leader, or an operator's action
   * here), if the fleet's is still the one it was decided on (run.seq): a step or an action
   * decided before another gateway's rollback never overwrites it. A rollback is written over
   * whatever is there (`forced`): the safe side. Writes go one after the other (run.publishing);
   * one the store did not take is written again at the next look (#tick). A stopped canary's
   * state does not expire: a gateway (re)started later keeps its verdict, not the first step.
   */
  protected publish(run: Run, forced = run.phase === 'rolled_back'): void {
    // Kept on disk too, for its next start: alone, or with its fleet's store not answering then
    // (kept-verdicts.ts).
    this.kept?.keep(run);
    const fleet = this.fleet;
    if (fleet === undefined) return;
    const state = sharedState(run);
    // A running canary's state ends after its time (a gateway that finds none begins anew); a
    // verdict stays until the canary runs again (0: no expiry).
    const ttl = run.phase === 'running' ? Math.max(2 * run.config.maxDuration, 3_600_000) : 0;
    run.publishing = run.publishing.then(async (): Promise<Published> => {
      try {
        const outcome = await fleet.publish(run.route, state, { base: run.seq, forced }, ttl);
        run.unshared = false;
        if ('written' in outcome) {
          run.seq = outcome.written;
          return 'written';
        }
        this.host.logger.info(
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
          this.host.logger.warn(
            { route: run.route, phase: state.phase, share: state.share, err: (err as Error).message },
            'canary state not shared with the fleet: written again once its store answers',
          );
        this.storeDown(run, err as Error);
        return 'failed';
      }
    });
  }

  /**
   * A look's work with the fleet: this gateway's change the store had not taken is written first,
   * its counts are added, the lease taken or kept, the fleet's state adopted if newer. Whether
   * this gateway leads (judges the fleet's counts); throws when the store does not answer.
   */
  protected async withFleet(run: Run, fleet: CanaryFleet, taken: WindowCounts | undefined): Promise<boolean> {
    await run.publishing;
    if (run.unshared) {
      this.publish(run);
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
      this.host.logger.info({ route: run.route }, 'canary fleet store answers again: following the fleet');
      run.fleetError = null;
    }
    if (this.current(run)) await this.adopt(run, state);
    return leading;
  }

  /** The fleet's store did not answer: said once until it answers again (the status tells it meanwhile). */
  protected storeDown(run: Run, err: Error): void {
    if (run.fleetError === null)
      this.host.logger.warn(
        { route: run.route, phase: run.phase, share: run.share, err: err.message },
        'canary fleet store unreachable: this gateway keeps its state (a running canary is rolled back here at max_duration)',
      );
    run.fleetError = err.message;
  }

  /** An action (start, step, pause, …): shared with the fleet unless `share` is false, kept in the status's list, logged, and an event. */
  protected recordAction(run: Run, action: CanaryAction, who: string, summary: string, share = true): void {
    if (share) this.publish(run);
    const at = new Date().toISOString();
    run.actions.push({ at, action, who, summary });
    if (run.actions.length > ACTIONS_KEPT) run.actions.shift();
    this.host.logger.info({ route: run.route, action, who, share: run.share, summary }, 'canary action');
    this.event(run, 'action', summary, {
      action,
      who,
      share: run.share,
      ...(run.reason === null ? {} : { reason: run.reason }),
    });
  }
}
