/**
 * What is wrong with a config file, every problem at once, each pointing at a line.
 *
 * An operator fixing a config at 3 a.m. should not need one restart per typo, so the
 * loader collects every problem before throwing.
 */
import { printable } from '../printable.ts';

export interface ConfigProblem {
  /** The file as the caller named it (what the operator typed, so the output is clickable). */
  readonly file: string;
  /** 1-based; 0 when the problem is not about one place in the file (e.g. it cannot be read). */
  readonly line: number;
  /** 1-based; 0 when `line` is 0. */
  readonly column: number;
  /** Where in the config, e.g. "upstreams.api.timeouts.connect" or "routes[2].match.path"; "" for the file itself. */
  readonly path: string;
  /** What was expected and what was found. */
  readonly message: string;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(formatConfigProblems(problems));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * One line per problem, `file:line:column  path: message`, then a count.
 *
 * @example
 * formatConfigProblems(error.problems)
 * // candor.yaml:12:7  upstreams.api.timeouts.connect: expected a duration like 250ms, 5s or 1m, got "fast"
 * // 1 problem in candor.yaml
 */
export function formatConfigProblems(problems: readonly ConfigProblem[]): string {
  const lines = problems.map(formatConfigProblem);
  const files = [...new Set(problems.map((problem) => problem.file))].join(', ');
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  lines.push(files === '' ? `${count}` : `${count} in ${files}`);
  return lines.join('\n');
}

/**
 * One problem's line: `candor.yaml:12:7  upstreams.api.timeouts.connect: expected …`. A message
 * quotes names of the file as written (`no upstream named '…'`), and the line goes to a
 * terminal: its control characters and bidi overrides are escaped (printable), so that an ESC
 * in a name does not recolour or clear the screen and an LF does not forge a problem of its own.
 */
export function formatConfigProblem(problem: ConfigProblem): string {
  const where = problem.line > 0 ? `${problem.file}:${problem.line}:${problem.column}` : problem.file;
  const what = problem.path === '' ? problem.message : `${problem.path}: ${problem.message}`;
  return printable(`${where}  ${what}`, true);
}

/** A warning's line, said as a problem's is but not stopping anything: `candor.yaml:12:7  path: warning: …`. */
export function formatConfigWarning(warning: ConfigProblem): string {
  return printable(
    `${warning.file}:${warning.line}:${warning.column}  ${warning.path}: warning: ${warning.message}`,
    true,
  );
}
