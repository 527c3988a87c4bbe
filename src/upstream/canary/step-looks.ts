import { addWindow, emptyWindow, type WindowCounts } from './canary-window.ts';
import { type Judgement, type JudgeSettings, judgeWindow } from './judge.ts';

/** What one look at a step came to. */
export interface Look {
  /** 1-based, counted from the step's start: one each check_interval. */
  readonly index: number;
  /** The looks the step has before its end (step_interval / check_interval, rounded up). */
  readonly planned: number;
  /** At or past the step's end: a pass now moves the canary on. */
  readonly last: boolean;
  /** The chance of a false "worse" this look was allowed (shared by the metrics compared). */
  readonly alpha: number;
  readonly judged: Judgement;
}

/**
 * One canary step looked at while it runs: every check_interval the counts taken since the step
 * began are judged, so a canary worse with confidence is rolled back at the first look that shows
 * it, not at the step's end; a pass counts only at the end (a step is never cut short by luck).
 *
 * Looking again and again at growing counts gives chance more tries at a false "worse". The
 * step's budget for it, 1 − confidence, is split by Bonferroni over its planned looks: each
 * decided look before the end may spend a 1/planned share, and the look that ends the step
 * (at step_interval, or the first decided one after while a side is short of requests) spends
 * what is left. The shares add up to the budget, so by the union bound a healthy canary is rolled
 * back in a step with a chance of at most 1 − confidence, however many looks it had; a look
 * with a side short of min_requests decides nothing and spends nothing. (Pocock's and O'Brien-
 * Fleming's boundaries give more for the same budget by using how correlated the looks are;
 * Bonferroni needs no such model, and a canary that is really worse is far past either.)
 */
export class StepLooks {
  readonly #config: JudgeSettings;
  readonly planned: number;
  #made = 0;
  /**
   * Every window taken since the step began, added up as it comes: a look's work is one pass
   * over a window and one judging of the totals, however many requests the step has seen.
   */
  readonly #counts: WindowCounts = emptyWindow();
  /** The budget spent by decided looks before the step's end. */
  #spent = 0;
  /** The keys the step counted, in whichever process, each with its request (key-votes.ts). */
  readonly keys = new Map<number, number>();

  constructor(config: JudgeSettings) {
    this.#config = config;
    this.planned = plannedLooks(config);
  }

  /** Looks made in this step so far. */
  get made(): number {
    return this.#made;
  }

  /** The counts taken since the last look join the step's, and the whole step so far is judged. */
  look(taken: WindowCounts | undefined): Look {
    this.#made++;
    if (taken !== undefined) addWindow(this.#counts, taken);
    const budget = 1 - this.#config.confidence;
    const last = this.#made >= this.planned;
    const left = budget - this.#spent;
    // A look short of the canary's answers only (judge.ts) is tested for worse all the same, and
    // cannot end the step: past its end such looks may come one after the other (both sides
    // failing alike, a dependency they share down, until max_duration), and each tested at all
    // that was left gave chance a new try each time (12 times the budget tested in a step, 2.3 %
    // of such canaries rolled back at 99 %). A look past the end is tested at half of what is left
    // and, short, spends it; the one that decides is tested again at all that is left (a larger
    // alpha finds worse where the smaller one did, so it still decides): together they are the budget.
    let alpha = last ? left / 2 : budget / this.planned;
    let judged = judgeWindow(this.#counts, this.#config, alpha);
    if (last && judged.decided) {
      alpha = left;
      judged = judgeWindow(this.#counts, this.#config, alpha);
    }
    if ((judged.decided || judged.answers !== undefined) && (!last || !judged.decided)) this.#spent += alpha;
    return { index: this.#made, planned: this.planned, last, alpha, judged };
  }
}

/** A step's looks: one each check_interval, the last at or after its step_interval. */
export function plannedLooks(config: Pick<JudgeSettings, 'stepInterval' | 'checkInterval'>): number {
  return Math.max(1, Math.ceil(config.stepInterval / config.checkInterval));
}
