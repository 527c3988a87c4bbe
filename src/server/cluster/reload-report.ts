/**
 * A reload as the cluster primary reports it: who asked, what came of it (GET /status shows the
 * last one), the two reloads refused before the file is read, and the workers' answers read.
 */
import type { ConfigProblem } from '../../core/config/config-error.ts';
import type { Pushed } from '../fleet/applied-line.ts';
import type { ReloadOutcome } from '../gateway/reload-outcome.ts';
import { WORKER_ANSWER_MS, type WorkerAnswer } from './worker-requests.ts';

/** Who asked, for the log: the admin client's address, or the signal. */
export interface Caller {
  readonly via: 'SIGHUP' | 'admin' | 'canary' | 'etcd';
  readonly who: string;
  /** A reload of a revision taken from etcd: which, who pushed it, and a rollback's revision (the deploy timeline says so). */
  readonly pushed?: Pushed;
}

/** The last reload's result, as GET /status shows it. */
export interface ReloadReport {
  readonly at: string;
  readonly via: Caller['via'];
  readonly who: string;
  /** The file read: always the one the gateway was started with (`candor serve --config`). */
  readonly file: string;
  /**
   * ok: every worker swapped; invalid: the file was refused whole (invalid, or asking what a
   * reload cannot do, by the primary or by every worker), nothing changed, `problems` says
   * which parts; incomplete: some workers did not confirm, some may have swapped.
   */
  readonly result: 'ok' | 'invalid' | 'incomplete';
  readonly config_hash: string;
  readonly problems?: readonly ConfigProblem[];
  /** Workers that swapped, and those that did not confirm (with why). */
  readonly workers: { readonly confirmed: number[]; readonly failed: { id: number; reason: string }[] };
  readonly outcome?: ReloadOutcome;
  /**
   * An incomplete reload no worker swapped to and none still may: each answered a refusal, not
   * all for the file (a worker's error; one that exited or did not answer may yet run it, so is
   * never this). The primary went back to the config before, which every worker runs: a caller
   * that applies a file (the fleet's source) must not take it as applied.
   */
  readonly reverted?: true;
}

/**
 * A reload asked for a file the gateway does not run: nothing was read or changed. A reload
 * reads the file the gateway was started with, only; another file needs a restart.
 */
export interface NotTheRunningFile {
  readonly result: 'not_running_file';
  /** The file the gateway runs and a reload reads. */
  readonly running_file: string;
  /** The file the caller named, as it gave it. */
  readonly named_file: string;
}

/**
 * A reload asked for while the gateway drains: nothing was read or changed. Not the file's
 * fault, so not an invalid config: the gateway is going away (a listener the reload opened
 * would accept connections only for the drain to cut them).
 */
export interface WhileDraining {
  readonly result: 'draining';
  /** The file the gateway runs, which was not read, or whose read was given up. */
  readonly file: string;
  /** The drain began while the file was being read: that read was given up, nothing of it used. */
  readonly read_stopped?: true;
  /** The drain began while the workers swapped: each gave the new config up, none swapped. */
  readonly swap_stopped?: true;
}

/** What the workers answered to a reload: who swapped, who did not and why, and what the refusals said. */
interface ReloadAnswers {
  readonly confirmed: number[];
  readonly failed: { id: number; reason: string }[];
  /** The first swapped worker's outcome. */
  readonly outcome: ReloadOutcome | undefined;
  /** What the workers that refused the file said of it (a new listener's address taken…), each once. */
  readonly refusals: ReadonlyMap<string, ConfigProblem>;
  /** Every worker that did not swap refused the file for what it asks (none stalled, exited or broke). */
  readonly everyFailureIsTheFile: boolean;
  /** Some worker did not answer in time (stalled, not dead). */
  readonly unanswered: boolean;
}

/**
 * Reads the workers' answers to a reload; `asWritten` quotes a refusal's values as the file
 * wrote them, `draining` says whether a worker that exited is replaced.
 */
export function readReloadAnswers(
  answers: readonly WorkerAnswer[],
  asWritten: (problem: ConfigProblem) => ConfigProblem,
  draining: boolean,
): ReloadAnswers {
  const confirmed: number[] = [];
  const failed: { id: number; reason: string }[] = [];
  let outcome: ReloadOutcome | undefined;
  // What the workers that refused the file said of it (a new listener's address taken…).
  const refusals = new Map<string, ConfigProblem>();
  let everyFailureIsTheFile = true;
  // A worker that did not answer in time (stalled, not dead) still has the snapshot in its
  // channel and swaps to it when it runs again; one that died first is replaced on it.
  let unanswered = false;
  for (const { worker, answer, exit } of answers) {
    if (answer?.candor === 'reloaded' && answer.outcome) {
      confirmed.push(worker);
      outcome ??= answer.outcome;
    } else {
      const problems = answer?.candor === 'reloaded' ? answer.problems?.map(asWritten) : undefined;
      if (problems) for (const p of problems) refusals.set(`${p.path} ${p.message}`, p);
      else everyFailureIsTheFile = false;
      if (answer === undefined) unanswered = true;
      failed.push({
        id: worker,
        reason:
          exit !== undefined
            ? `exited (${exit}) before it answered${draining ? '' : '; its replacement starts on this config'}`
            : answer === undefined
              ? `no answer within ${WORKER_ANSWER_MS} ms`
              : answer.candor === 'reloaded'
                ? (answer.error ?? problems?.map((p) => `${p.path}: ${p.message}`).join('; ') ?? 'refused')
                : 'unexpected answer',
      });
    }
  }
  return { confirmed, failed, outcome, refusals, everyFailureIsTheFile, unanswered };
}
