/**
 * The config a fleet gateway runs: the document under the etcd key, then its bootstrap file's
 * `local` section, as one YAML text read by the config's own loader (so a revision is validated
 * exactly as `candor check` validates a file). A problem the loader finds is told where it was
 * written: in the document (at the key and revision) or in the bootstrap file's `local`.
 */

import { type Bootstrap, LOCAL_SECTIONS } from './bootstrap-file.ts';
import { coerceExpanded } from './coerce.ts';
import type { ConfigProblem } from './config-error.ts';
import { formatPath } from './config-path.ts';
import { MAX_CONFIG_BYTES, TOO_LARGE_WORDS } from './load.ts';
import { DOCUMENT_NOT_UTF8, type Undecodable } from './utf8.ts';
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
  /**
   * Where the document's bytes stopped being UTF-8 (etcd's value, or the file pushed, decoded
   * with U+FFFD in its place): refused there, as the loader refuses such a file, never run with
   * the byte replaced. The composed file is UTF-8, so the loader would not see it.
   */
  undecodable?: Undecodable,
): { text: string; documentLines: number } | { problems: ConfigProblem[] } {
  // Past the bound the loader keeps for a file, refused before it is read: read whole here (in a
  // gateway's primary, which signals and etcd's watch wait on), 10 MB of list items take seconds.
  if (Buffer.byteLength(document) > MAX_CONFIG_BYTES)
    return {
      problems: [
        {
          file: label,
          line: 0,
          column: 0,
          path: '',
          message: `the document is more than ${TOO_LARGE_WORDS}`,
        },
      ],
    };
  // Read leniently, only to find its top-level keys: the full check comes with the load.
  const yaml = readYamlSource(document, {}, coerceExpanded, 'empty');
  if (undecodable !== undefined)
    return {
      problems: [
        {
          file: label,
          ...yaml.positionAt(undecodable.offset),
          path: formatPath(yaml.fieldAt(undecodable.offset)),
          message: DOCUMENT_NOT_UTF8(undecodable.byte),
        },
      ],
    };
  // What only the document can be blamed for is told of it alone: composed with `local`, a
  // document that does not parse or is no mapping makes the loader fail at local's lines, and
  // the operator would be sent to a bootstrap file that has nothing wrong.
  const unreadable = notAMapping(yaml, label);
  if (unreadable.length > 0) return { problems: unreadable };
  const top = yaml.value as object;
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

/** The document's syntax errors, or why it is no mapping of config fields (empty, a list, a scalar). */
function notAMapping(yaml: ReturnType<typeof readYamlSource>, label: string): ConfigProblem[] {
  if (yaml.syntaxErrors.length > 0)
    return yaml.syntaxErrors.map((issue) => ({
      file: label,
      ...issue.position,
      path: formatPath(issue.path),
      message: issue.message,
    }));
  const value = yaml.value;
  if (value !== null && value !== undefined && typeof value === 'object' && !Array.isArray(value)) return [];
  const found =
    value === null || value === undefined
      ? 'it is empty'
      : Array.isArray(value)
        ? 'it is a list'
        : `it is a ${typeof value}`;
  return [
    {
      file: label,
      line: 1,
      column: 1,
      path: '',
      message: `a fleet's document is a config without its local parts, a mapping of fields (routes:, upstreams:, …); ${found}`,
    },
  ];
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
