/**
 * `candor serve --config BOOTSTRAP`: a gateway of a fleet, its config taken from etcd (or, when
 * etcd cannot be reached or its revision is refused, from the last good one in its state
 * folder), then served by the same primary as any config file, which follows the key from there.
 */
import {
  ConfigError,
  type ConfigProblem,
  formatConfigProblem,
  formatConfigProblems,
  formatConfigWarning,
} from '../../core/config/config-error.ts';
import { loadConfigAndProbe, type ProbedLoad, takenProblems } from '../../core/config/load-isolated.ts';
import { EXIT } from '../cluster/exit-codes.ts';
import { onLastGood, type Prepared, placeStartProblem, prepareFleetStart } from '../fleet/fleet-start.ts';
import { lastGoodFile } from '../fleet/last-good.ts';

export async function runFleetServe(
  bootstrapFile: string,
  workers: number,
  pidFile: string | undefined,
): Promise<number> {
  let prepared: Prepared;
  try {
    prepared = await prepareFleetStart(bootstrapFile);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${formatConfigProblems(err.problems)}\n`);
    return EXIT.config;
  }
  if ('problem' in prepared) {
    process.stderr.write(`candor: could not start: ${prepared.problem}\n`);
    return EXIT.unavailable;
  }
  let loaded: ProbedLoad;
  const first = prepared;
  try {
    loaded = await loadConfigAndProbe(first.file, []);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const problems = err.problems.map((p) => placeStartProblem(p, first));
    const { start } = first;
    // Already the last good config: with etcd away none is usable (69, as with none); with its
    // revision refused, the config is what stops the start (78).
    if (start.unreachableSince !== undefined || start.refused !== undefined)
      return lastGoodRefused(
        problems,
        start.bootstrap.state,
        start.unreachableSince !== undefined ? EXIT.unavailable : EXIT.config,
      );
    // etcd's revision refused as a whole config: the last good one, if there is one, and the refusal said.
    const fallback =
      start.unreachableSince === undefined && start.refused === undefined
        ? onLastGood(start.bootstrap, start.client, start.watchFrom, {
            refused: { revision: start.revision, problems },
          })
        : undefined;
    if (fallback === undefined || 'problem' in fallback) {
      process.stderr.write(`${formatConfigProblems(problems)}\n`);
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
        fallback.start.bootstrap.state,
        EXIT.config,
      );
    }
  }
  for (const warning of prepared.start.bootstrap.warnings)
    process.stderr.write(`${formatConfigWarning(warning)}\n`);
  for (const note of prepared.notes) process.stderr.write(`candor: ${note}\n`);
  const taken = takenProblems(loaded);
  if (taken.length > 0) {
    for (const problem of taken)
      process.stderr.write(
        `candor: could not start: ${formatConfigProblem(placeStartProblem(problem, prepared))}\n`,
      );
    return EXIT.unavailable;
  }
  return (await import('./primary.ts')).runPrimary(prepared.file, loaded.config, workers, {
    pidFile,
    fleet: { start: prepared.start, notes: prepared.notes },
  });
}

/**
 * The last good config fails validation (kept by an older gateway whose config this one
 * refuses): as good as none, the gateway does not start (`code`), its problems told where its
 * document came from and the file named.
 */
function lastGoodRefused(problems: readonly ConfigProblem[], state: string, code: number): number {
  process.stderr.write(
    `${formatConfigProblems(problems)}\ncandor: could not start: the last good config in ${lastGoodFile(state)} cannot be used: it fails validation (above)\n`,
  );
  return code;
}
