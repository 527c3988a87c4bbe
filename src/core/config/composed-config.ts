/**
 * The config a fleet gateway runs: the document under the etcd key, then its bootstrap file's
 * `local` section, as one YAML text read by the config's own loader (so a revision is validated
 * exactly as `candor check` validates a file). A problem the loader finds is told where it was
 * written: in the document (at the key and revision) or in the bootstrap file's `local`.
 */

import { isMap, type Node, parse, parseDocument } from 'yaml';
import { type Bootstrap, LOCAL_SECTIONS } from './bootstrap-file.ts';
import { coerceExpanded } from './coerce.ts';
import type { ConfigProblem } from './config-error.ts';
import { formatPath, parsePath } from './config-path.ts';
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
): ({ text: string } & ComposedLayout) | { problems: ConfigProblem[] } {
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
  return composeText(document, yaml.locate([]), bootstrap);
}

/**
 * Where the document and `local` are in the composed text, for a problem to be told where it
 * was written (placeProblem).
 */
export interface ComposedLayout {
  /** The composed text's first lines are the document's, as written. */
  readonly documentLines: number;
  /** The columns `local`'s lines are indented by after them: the document's own top-level indentation. */
  readonly localIndent: number;
  /** `local` written into the document's flow mapping (a JSON document), on its last line: a problem of it is found by its field. */
  readonly localInFlow: boolean;
}

/**
 * The document, its lines and columns as written, then `local` as the document's own top-level
 * fields are written, so that any config file `candor check` takes composes: a block mapping
 * (at the document's indentation, whatever it is), or, for a flow mapping (a JSON document),
 * written into it before its closing brace. YAML's end marker `...` is blanked (local after it
 * would be a second document). `root`: where the document's top-level mapping begins.
 */
function composeText(
  document: string,
  root: { line: number; column: number },
  bootstrap: Bootstrap,
): { text: string } & ComposedLayout {
  const body = document.replace(/^\.\.\.(?=[ \t]|\r?$)/gm, '   ').replace(/\s+$/, '');
  const documentLines = body === '' ? 0 : body.split('\n').length;
  const lines = body.split('\n');
  const bom = root.line === 1 && body.charCodeAt(0) === 0xfeff ? 1 : 0;
  if (lines[root.line - 1]?.[root.column - 1 + bom] === '{') {
    const flow = parseDocument(body).contents;
    if (isMap(flow) && flow.range !== undefined && flow.range !== null) {
      const close = flow.range[1] - 1;
      const last = flow.items.at(-1);
      const lastEnd = last === undefined ? close : ((last.value ?? last.key) as Node | null)?.range?.[1];
      // A trailing comma (YAML allows one in a flow mapping) or no field: local's fields follow without one.
      const tail = lastEnd === undefined ? '' : body.slice(lastEnd, close).replace(/#[^\n]*/g, '');
      const sep = last === undefined || tail.includes(',') ? ' ' : ', ';
      const fields = Object.entries((parse(bootstrap.local.text) ?? {}) as Record<string, unknown>)
        .map(([field, value]) => `${JSON.stringify(field)}: ${JSON.stringify(value)}`)
        .join(', ');
      return {
        text: `${body.slice(0, close)}${sep}${fields}${body.slice(close)}\n`,
        documentLines,
        localIndent: 0,
        localInFlow: true,
      };
    }
  }
  const localIndent = root.column - 1;
  const pad = ' '.repeat(localIndent);
  const local = bootstrap.local.text
    .split('\n')
    .map((line) => (line === '' ? line : pad + line))
    .join('\n');
  return { text: `${body}\n${local}\n`, documentLines, localIndent, localInFlow: false };
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
  layout: ComposedLayout,
): ConfigProblem {
  if (problem.file !== composedFile) return problem;
  const local = bootstrap.local;
  if (layout.localInFlow) {
    // Every field of local on the document's last line: the field says whose it is (the document holds none of local's).
    const path = parsePath(problem.path);
    if (!(LOCAL_SECTIONS as readonly unknown[]).includes(path[0])) return { ...problem, file: label };
    const at = readYamlSource(local.text, {}, coerceExpanded, 'empty').locate(path);
    return {
      ...problem,
      file: bootstrap.file,
      line: at.line - 1 + local.firstLine,
      column: at.column + local.indent,
    };
  }
  if (problem.line === 0 || problem.line <= layout.documentLines) return { ...problem, file: label };
  return {
    ...problem,
    file: bootstrap.file,
    line: problem.line - layout.documentLines - 1 + local.firstLine,
    // Dedented from the bootstrap file, then indented as the document is.
    column: problem.column === 0 ? 0 : problem.column - layout.localIndent + local.indent,
  };
}
