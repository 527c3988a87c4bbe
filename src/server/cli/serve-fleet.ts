/**
 * `candor serve --config BOOTSTRAP`: a gateway of a fleet, its config taken from etcd (or, when
 * etcd cannot be reached or its revision is refused, from the last good one in its state
 * folder), then served by the same primary as any config file, which follows the key from there.
 */

import { type Bootstrap, readBootstrap } from '../../core/config/bootstrap-file.ts';
import {
  ConfigError,
  type ConfigProblem,
  formatConfigProblem,
  formatConfigProblems,
  formatConfigWarning,
} from '../../core/config/config-error.ts';
import { loadConfigAndProbe, type ProbedLoad, takenProblems } from '../../core/config/load-isolated.ts';
import { EXIT } from '../cluster/exit-codes.ts';
import { localProblems } from '../fleet/config-push.ts';
import { onLastGood, type Prepared, placeStartProblem, prepareFleetStart } from '../fleet/fleet-start.ts';
import { lastGoodFile } from '../fleet/last-good.ts';

export async function runFleetServe(
  bootstrapFile: string,
  workers: number,
  pidFile: string | undefined,
): Promise<number> {
  let bootstrap: Bootstrap;
  try {
    bootstrap = readBootstrap(bootstrapFile);
    // A problem of the file itself stops the start whatever etcd holds, never told as its revision's.
    const problems = localProblems(bootstrap, 'required');
    if (problems.length > 0) throw new ConfigError(problems);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${formatConfigProblems(err.problems)}\n`);
    return EXIT.config;
  }
  // Said before etcd is asked: its user and password go with the first call.
  for (const warning of bootstrap.warnings) process.stderr.write(`${formatConfigWarning(warning)}\n`);
  let prepared: Prepared = await prepareFleetStart(bootstrap);
  if ('problem' in prepared) {
    process.stderr.write(`candor: could not start: ${prepared.problem}\n`);
    return prepared.config === true ? EXIT.config : EXIT.unavailable;
  }
  let loaded: ProbedLoad;
  const first = prepared;
  try {
    loaded = await loadConfigAndProbe(first.file, []);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const problems = err.problems.map((p) => placeStartProblem(p, first));
    const { start } = first;
    // Already the last good config: with etcd away, refusing this gateway (a wrong password) or
    // its key empty, none is usable (69, as with none); with its revision refused, the config is
    // what stops the start (78). Never read again as if it were etcd's revision refused.
    const startedOnLastGood =
      start.unreachableSince !== undefined ||
      start.denied !== undefined ||
      start.refused !== undefined ||
      start.keyEmpty === true;
    if (startedOnLastGood) {
      // etcd's refused revision first, as when the start found it so.
      if (start.refused !== undefined)
        process.stderr.write(`${formatConfigProblems(start.refused.problems)}\n`);
      return lastGoodRefused(problems, first, start.refused === undefined ? EXIT.unavailable : EXIT.config);
    }
    // etcd's revision refused as a whole config: the last good one, if there is one, and the refusal said.
    const fallback =
      start.unreachableSince === undefined && start.refused === undefined
        ? onLastGood(start.bootstrap, start.client, start.watchFrom, {
            refused: { revision: start.revision, problems },
          })
        : undefined;
    if (fallback === undefined) {
      process.stderr.write(`${formatConfigProblems(problems)}\n`);
      return EXIT.config;
    }
    // No last good config to start on (or none usable): said, with the revision's problems, as a
    // document refused before its load is (prepareFleetStart), never the problems alone.
    if ('problem' in fallback) {
      process.stderr.write(`candor: could not start: ${fallback.problem}\n`);
      return EXIT.config;
    }
    process.stderr.write(`${formatConfigProblems(problems)}\n`);
    prepared = fallback;
    try {
      loaded = await loadConfigAndProbe(prepared.file, []);
    } catch (again) {
      if (!(again instanceof ConfigError)) throw again;
      return lastGoodRefused(
        again.problems.map((p) => placeStartProblem(p, fallback)),
        fallback,
        EXIT.config,
      );
    }
  }
  for (const note of prepared.notes) process.stderr.write(`candor: ${note}\n`);
  const taken = takenProblems(loaded);
  if (taken.length > 0) {
    for (const problem of taken)
      process.stderr.write(
        `candor: could not start: ${formatConfigProblem(placeStartProblem(problem, prepared))}\n`,
      );
    return EXIT.unavailable;
  }
  const started = prepared;
  return (await import('./primary.ts')).runPrimary(prepared.file, loaded.config, workers, {
    pidFile,
    fleet: {
      start: prepared.start,
      notes: prepared.notes,
      place: (problem) => placeStartProblem(problem, started),
    },
  });
}

/**
 * The last good config fails validation (kept by an older gateway whose config this one
 * refuses): as good as none, the gateway does not start (`code`), its problems told where its
 * document came from and the file named.
 */
function lastGoodRefused(
  problems: readonly ConfigProblem[],
  prepared: Extract<Prepared, { file: string }>,
  code: number,
): number {
  const file = lastGoodFile(prepared.start.bootstrap.state);
  process.stderr.write(
    `${formatConfigProblems(problems)}\ncandor: could not start: ${prepared.because ?? 'etcd cannot be read'}, and the last good config in ${file} cannot be used: it fails validation (above)\n`,
  );
  return code;
}
