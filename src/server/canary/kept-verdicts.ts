import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStateFile } from '../../core/state-file.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { type FleetState, stateOf } from './canary-fleet.ts';
import { type Run, sharedState } from './canary-run.ts';

/** The largest verdict file read: one is a few hundred bytes. */
const MAX_VERDICT = 1024 * 1024;

/**
 * The verdict of each canary, kept on disk so that a restart does not start again from its
 * first step a canary that was rolled back (10 % back to a version found worse), promoted, held
 * or paused. A fleet keeps it in its Redis (canary-shared-state.ts); the copy here is what a
 * gateway restarted while that store does not answer holds until it does. One file per route, `<state_dir>/canaries/<gateway name>/<route>.json`,
 * holding the state as the fleet shares it (canary-fleet.ts), written whole (a temporary file
 * renamed) when the canary stops, removed when it runs again. A folder that cannot be written
 * (full, read-only) is said once and the canary goes on; the write is tried again every
 * check_interval until it is done (or the canary is no longer the route's): a verdict the disk
 * had no room for when it was reached is kept once it has, not lost at the next restart.
 */
export class KeptVerdicts {
  readonly dir: string;
  readonly #logger: Logger;
  /** Whether a run is still its route's (no reload ended it): only such a run's state is written again. */
  readonly #current: (run: Run) => boolean;
  #failing = false;
  /** The routes whose last write failed, and the timer of each one's next try. */
  readonly #retries = new Map<string, NodeJS.Timeout | undefined>();

  constructor(stateDir: string, gateway: string, logger: Logger, current: (run: Run) => boolean) {
    this.dir = join(stateDir, 'canaries', gateway);
    this.#logger = logger;
    this.#current = current;
  }

  /** No more tries (the controller closes, or its state_dir moved). */
  close(): void {
    for (const timer of this.#retries.values()) clearTimeout(timer);
    this.#retries.clear();
  }

  /** The verdict kept for this run's canary, of its version; undefined when none (or unreadable: said). */
  read(run: Run): FleetState | undefined {
    let text: string;
    try {
      text = readStateFile(this.#file(run.route), MAX_VERDICT);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.#logger.warn(
          { route: run.route, err: (err as Error).message },
          'canary verdict kept on disk cannot be read: the canary starts from its first step',
        );
      return undefined;
    }
    const state = stateOf(text);
    return state !== undefined &&
      state.phase !== 'running' &&
      (judgedAgainst(text) ?? run.baseline) === run.baseline &&
      state.canary === run.config.upstream &&
      state.of === run.version &&
      state.step < run.config.steps.length
      ? state
      : undefined;
  }

  /** Kept while the canary is stopped (a verdict, an operator's); forgotten once it runs. */
  keep(run: Run): void {
    const file = this.#file(run.route);
    // Kept as it is now: a try pending (of an older state) is this one.
    const retried = this.#retries.has(run.route);
    clearTimeout(this.#retries.get(run.route));
    this.#retries.delete(run.route);
    try {
      if (run.phase === 'running') return rmSync(file, { force: true });
      // The baseline beside it: a verdict is the canary's against that version. A restart whose
      // config gives the route another begins the canary anew, as a reload does (canary-controller.ts).
      const state: FleetState & { baseline: string } = {
        seq: Math.max(1, run.seq),
        ...sharedState(run),
        baseline: run.baseline,
      };
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        writeFileSync(temporary, JSON.stringify(state), { mode: 0o600, flag: 'wx' });
        renameSync(temporary, file);
      } finally {
        rmSync(temporary, { force: true });
      }
      this.#failing = false;
      if (retried)
        this.#logger.info(
          { route: run.route, phase: run.phase, dir: this.dir },
          'canary verdict kept on disk after all',
        );
    } catch (err) {
      if (!this.#failing)
        this.#logger.warn(
          { route: run.route, dir: this.dir, err: (err as Error).message },
          'canary verdict not kept on disk (state_dir): a restart would start the canary from its first step',
        );
      this.#failing = true;
      // Tried again (its state then) until done: nothing else writes a stopped canary's verdict.
      const timer = setTimeout(() => {
        if (this.#current(run)) this.keep(run);
        else this.#retries.delete(run.route);
      }, run.config.checkInterval);
      timer.unref();
      this.#retries.set(run.route, timer);
    }
  }

  #file(route: string): string {
    return join(this.dir, `${encodeURIComponent(route)}.json`);
  }
}

/**
 * The baseline a kept verdict was reached against (parsed only once stateOf took the text);
 * undefined for one an earlier release kept, which wrote none: it holds whatever the baseline.
 */
function judgedAgainst(text: string): string | undefined {
  const { baseline } = JSON.parse(text) as { baseline?: unknown };
  return typeof baseline === 'string' ? baseline : undefined;
}
