import type { CanaryVerdictCount } from '../../observe/metrics/metrics.ts';
import type { CanaryFleet } from './canary-fleet.ts';
import { type CanaryHost, type Run, sidesOf } from './canary-run.ts';
import type { KeptVerdicts } from './kept-verdicts.ts';

/**
 * The ground floor of the canary controller (canary-controller.ts, built in layers: this, the
 * fleet's shared state, the steps, the judging, the operator's actions): the routes' runs, the
 * gateway it runs in, the fleet it is judged with, and what every layer does to a run (its share
 * to the workers, an event on the timeline).
 */
export class CanaryRuns {
  protected readonly host: CanaryHost;
  protected readonly runs = new Map<string, Run>();
  /** With `store.redis`: the fleet's counts, lease and state (canary-fleet.ts); undefined: this gateway alone. */
  protected fleet: CanaryFleet | undefined;
  /** Without a fleet: each canary's verdict on disk, for a restart to keep (kept-verdicts.ts). */
  protected kept: KeptVerdicts | undefined;
  protected closed = false;

  constructor(host: CanaryHost) {
    this.host = host;
  }

  protected async setShare(run: Run, share: number, verdict?: CanaryVerdictCount): Promise<void> {
    // The share is the run's once the workers took it: refused (a reload took the route's split
    // away meanwhile), the status keeps telling the share they still have.
    await this.host.setSides(run.route, sidesOf(run, share), verdict);
    run.share = share;
  }

  protected event(
    run: Run,
    what: 'step' | 'verdict' | 'action',
    summary: string,
    fields: Record<string, unknown>,
  ): void {
    try {
      this.host.onEvent({
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
  protected current(run: Run): boolean {
    return !this.closed && this.runs.get(run.route) === run;
  }

  protected stopTimer(run: Run): void {
    if (run.timer !== undefined) clearTimeout(run.timer);
    run.timer = undefined;
  }
}
