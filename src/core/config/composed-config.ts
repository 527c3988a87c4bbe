/**
 * The config a fleet gateway runs: the document under the etcd key, then its bootstrap file's
 * `local` section, as one YAML text read by the config's own loader (so a revision is validated
 * exactly as `candor check` validates a file). A problem the loader finds is told where it was
 * written: in the document (at the key and revision) or in the bootstrap file's `local`.
 */
import { type Bootstrap, LOCAL_SECTIONS } from './bootstrap-file.ts';
import { coerceExpanded } from './coerce.ts';
import type { ConfigProblem } from './config-error.ts';
import { readYamlSource } from './yaml-source.ts';

/** How a revision of the document is named in a problem: `etcd:/candor/config@42`. */
export function documentLabel(key: string, revision: number): string {
  return `etcd:${key}@${revision}`;
}

/** The composed text, or the document's problems (a section each gateway keeps, written in it). */
export function composeConfig(
  document: string,
  bootstrap: Bootstrap,
  /** How the document is named in a problem: documentLabel's, or the file a push reads it from. */
  label: string,
): { text: string; documentLines: number } | { problems: ConfigProblem[] } {
  // Read leniently, only to find its top-level keys: the full check comes with the load.
  const yaml = readYamlSource(document, {}, coerceExpanded, 'empty');
  const top =
    yaml.syntaxErrors.length === 0 && yaml.value !== null && typeof yaml.value === 'object' ? yaml.value : {};
  const problems: ConfigProblem[] = LOCAL_SECTIONS.filter((section) => Object.hasOwn(top, section)).map(
    (section) => ({
      file: label,
      ...yaml.locate([section], 'key'),
      path: section,
      message: `'${section}' is each gateway's own: it belongs in the bootstrap file's local section, not in the fleet's document`,
    }),
  );
  // An include reads files on each gateway's own disk: the fleet would not run one config.
  if (Object.hasOwn(top, 'include'))
    problems.push({
      file: label,
      ...yaml.locate(['include'], 'key'),
      path: 'include',
      message:
        "a fleet's document is the whole config, kept in etcd: include would read files on each gateway's own disk; write their routes and upstreams in the document",
    });
  if (problems.length > 0) return { problems };
  const body = document.replace(/\s+$/, '');
  const documentLines = body === '' ? 0 : body.split('\n').length;
  return { text: `${body}\n${bootstrap.local.text}\n`, documentLines };
}

/** A problem of the composed file (`composedFile`), told where it was written. */
export function placeProblem(
  problem: ConfigProblem,
  composedFile: string,
  bootstrap: Bootstrap,
  label: string,
  documentLines: number,
): ConfigProblem {
  if (problem.file !== composedFile) return problem;
  if (problem.line === 0 || problem.line <= documentLines) return { ...problem, file: label };
  return {
    ...problem,
    file: bootstrap.file,
    line: problem.line - documentLines - 1 + bootstrap.local.firstLine,
  };
}
