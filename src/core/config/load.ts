/**
 * Loading a config: read the file, parse the YAML, expand `${VAR}`, check the shape and the
 * cross-field rules, then build the frozen runtime config. Every problem found on the way
 * is collected and thrown together as one ConfigError.
 */

import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { readUpTo } from '../state-file.ts';
import { checkAcme } from './acme-checks.ts';
import { checkAdmin } from './admin-checks.ts';
import { coerceExpanded } from './coerce.ts';
import { ConfigError, type ConfigProblem } from './config-error.ts';
import { formatPath } from './config-path.ts';
import { checkCrossFields } from './cross-checks.ts';
import { checkDns01 } from './dns01-checks.ts';
import { problemTemplates } from './env-templates.ts';
import { fieldLinesOf, keepFieldLines } from './field-lines.ts';
import { checkFiles } from './file-checks.ts';
import { deepFreeze } from './freeze.ts';
import { applyIncludes, type Included } from './includes.ts';
import { byFileAndLine, placesOf, routesAsWritten, takenFrom, warningsTo } from './merged-places.ts';
import { withoutMisspeltRequired } from './misspelt-required.ts';
import { toGatewayConfig } from './normalize.ts';
import { checkOidc } from './oidc-checks.ts';
import { checkPluginModules } from './plugin-modules.ts';
import { NotRegularFile, readErrorReason } from './read-error.ts';
import type { Report, WrittenElsewhere } from './report.ts';
import { applyRouteDefaults, writtenAt } from './route-defaults.ts';
import type { PathSegment, RawConfig } from './schema.ts';
import type { SecretPresence } from './secrets.ts';
import { checkTracingPackages } from './tracing-checks.ts';
import type { GatewayConfig } from './types.ts';
import { firstUndecodable, isNotUtf8, NOT_UTF8, type Undecodable } from './utf8.ts';
import { checkSchema } from './validate.ts';
import { fieldWarnings } from './warnings.ts';
import { readYamlSource } from './yaml-source.ts';

/** How strictly a load checks what is not in the file itself. */
export interface LoadOptions {
  /**
   * `may-be-absent` (`candor check --without-secrets`): an admin token, TLS private key or
   * `${VAR}` that is not there is no problem (one that is there is checked in full; an unset
   * variable reads as empty, or as a stand-in where empty makes its field wrong: standIns); secrets.ts lists them.
   * Default `required`: a config that passed must start.
   */
  readonly secrets?: SecretPresence;
  /**
   * Told each `${NAME}` the file uses without a default, with its field (e.g.
   * "store.redis.url"): a variable `serve` needs in its environment.
   */
  readonly onVariable?: (name: string, field: string) => void;
  /**
   * Receives what is allowed but likely not meant (a route that another takes much of), for
   * `candor check` to print; the config loads all the same.
   */
  readonly warnings?: ConfigProblem[];
  /**
   * Told, once the config has loaded, each route that took fields from `route_defaults` (where it
   * is written: `routes[0]`, and the included file that writes it, as a problem names it; its
   * name; the fields, and those it turned off as `no cache (cache: false)`), for `candor check` to
   * show which route gets which default.
   */
  readonly onRouteDefaults?: (
    route: { readonly path: string; readonly file: string | undefined },
    name: string,
    fields: readonly string[],
  ) => void;
  /** Told, for each problem, the variables its field names (standIns: which unset one made it). */
  readonly onProblemVariables?: (names: readonly string[]) => void;
}

/**
 * Reads and validates the config file at `path`; relative paths inside it are taken from
 * the file's own directory.
 *
 * @example const config = await loadConfigFile('candor.yaml'); // throws ConfigError
 */
export async function loadConfigFile(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  options: LoadOptions = {},
): Promise<GatewayConfig> {
  let bytes: Buffer;
  try {
    bytes = await readConfigBytes(path);
  } catch (error) {
    const reason = error === TOO_LARGE ? `more than ${TOO_LARGE_WORDS}` : readErrorReason(error);
    throw new ConfigError([
      {
        file: path,
        line: 0,
        column: 0,
        path: '',
        message: `cannot read config file ${resolve(path)}: ${reason}`,
      },
    ]);
  }
  const text = bytes.toString('utf8');
  const config = parseText(text, path, env, options, firstUndecodable(bytes, text));
  // Each plugin's module loads and takes its options, or the config is refused as any bad field is.
  if (config.plugins !== undefined) {
    const problems = await checkPluginModules(config, dirname(resolve(path)));
    // Named as `path` names the file, as every problem before these (config.source is absolute).
    if (problems.length > 0)
      throw new ConfigError(problems.map((p) => (p.file === config.source ? { ...p, file: path } : p)));
  }
  return config;
}

/**
 * A config is a few KiB: past this bound a file is something else (/dev/zero, a log named by
 * mistake), refused once the bound is read rather than read whole (/dev/zero has no end).
 */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** Why a text past MAX_CONFIG_BYTES is refused, after "more than". */
export const TOO_LARGE_WORDS = `${MAX_CONFIG_BYTES / 1024 / 1024} MiB: no config is that large (one using every field is a few KiB)`;
const TOO_LARGE = new Error('config file too large');

async function readConfigBytes(path: string): Promise<Buffer> {
  const bytes = await readBoundedBytes(path);
  if (bytes.length > MAX_CONFIG_BYTES) throw TOO_LARGE;
  return bytes;
}

/**
 * A file's bytes, at most MAX_CONFIG_BYTES + 1 of them: one past the bound tells the reader
 * (`candor config push`, composeConfig) to refuse it, without reading the rest.
 */
export async function readBoundedBytes(path: string): Promise<Buffer> {
  // Non-blocking, so that opening a FIFO returns rather than waits for a writer; what was opened
  // is then looked at, not the name (which may be replaced meanwhile).
  const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = await file.stat();
    // A folder is left to the read, which says "is a directory".
    if (!stat.isFile() && !stat.isDirectory()) throw new NotRegularFile(stat);
    return await readUpTo(file, Buffer.allocUnsafe(MAX_CONFIG_BYTES + 1));
  } finally {
    await file.close();
  }
}

/**
 * Validates config text as if read from `source` (a file path, or a label like "<demo>").
 * Files the config names (certificates, CAs) are looked up next to `source` and must exist.
 * `warnings`, when given, receives what is allowed but likely not meant (a route that the
 * router's precedence keeps from some of its requests), for `candor check` to show.
 *
 * @example parseConfig('listen: [{ address: "127.0.0.1:0" }]\n...', '/etc/candor/candor.yaml', {})
 */
export function parseConfig(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
  options: LoadOptions = {},
): GatewayConfig {
  return parseText(text, source, env, options, undefined);
}

/** parseConfig, told where a file's bytes stopped being UTF-8 (text given as a string has no bytes to be wrong). */
function parseText(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv,
  options: LoadOptions,
  undecodable: Undecodable | undefined,
): GatewayConfig {
  if (options.secrets !== 'may-be-absent') return parseOnce(text, source, env, options, undecodable);
  // Told to the caller only once it is known to be the last load: most configs pass, or fail for
  // what no variable made, the first time.
  const told: (() => void)[] = [];
  const named: string[] = [];
  const held: LoadOptions = {
    secrets: 'may-be-absent',
    onVariable: (name, field) => told.push(() => options.onVariable?.(name, field)),
    warnings: options.warnings === undefined ? undefined : [],
    onRouteDefaults: (route, name, fields) => told.push(() => options.onRouteDefaults?.(route, name, fields)),
    onProblemVariables: (names) => named.push(...names),
  };
  const tell = () => {
    for (const each of told) each();
    options.warnings?.push(...(held.warnings ?? []));
  };
  try {
    const config = parseOnce(text, source, env, held, undecodable);
    tell();
    return config;
  } catch (error) {
    if (!(error instanceof ConfigError) || !named.some((name) => env[name] === undefined)) {
      tell();
      throw error;
    }
  }
  return parseOnce(text, source, standIns(text, source, env, undecodable), options, undecodable);
}

/**
 * Stand-in values tried, in order, for a variable not set here (`candor check --without-secrets`).
 * Read as empty, `Bearer ${API_TOKEN}` is "Bearer ", which no header value may end with, and a CI
 * job had to set a dummy token for the docs' own example to pass: a value that fits the field's
 * shape checks it as far as it can be without the secret (a word, a number, a duration, a URL).
 */
// The URL's host is TEST-NET-1 (RFC 5737), no address of this machine: a loopback one beside the
// port stand-in `1` made `127.0.0.1:1` both a listener and a target, warned of as the gateway's own.
// The address (a listener's or the admin API's `${LISTEN}` given whole, which no other stand-in
// fits) is loopback (an admin API beyond it is warned of), on port 0, which no target may name:
// it is never taken for the gateway's own. A Redis URL (`store.redis.url: ${REDIS_URL}`) and a
// CIDR (`trust_forwarded_from: ["${PROXY_CIDR}"]`) given whole are TEST-NET-1's too, and so is
// an https URL with a path on the default port: an OTLP endpoint needs its traces path, a JWKS URL
// a port the Fetch standard does not block, and the http one above has neither.
const STAND_INS = [
  'x',
  '1',
  '1s',
  'http://192.0.2.1:1',
  '127.0.0.1:0',
  'redis://192.0.2.1:6379',
  '192.0.2.0/24',
  'https://192.0.2.1/v1/traces',
] as const;
/** At most this many variables are given a stand-in: each costs a load per value tried. */
const MAX_STAND_INS = 16;

/**
 * `env` with a stand-in for each unset variable whose field its emptiness made wrong, where one
 * of STAND_INS makes that field right and no other field wrong; a variable no stand-in fits stays
 * unset, read as empty, and its field's problem is told as before (`htp://${HOST}` fails with any
 * host). The loads here are quiet: only the last one, the caller's, tells anything.
 */
function standIns(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv,
  undecodable: Undecodable | undefined,
): NodeJS.ProcessEnv {
  const problemsWith = (trial: NodeJS.ProcessEnv) => {
    const named: string[][] = [];
    const paths: string[] = [];
    try {
      parseOnce(
        text,
        source,
        trial,
        { secrets: 'may-be-absent', onProblemVariables: (n) => named.push([...n]) },
        undecodable,
      );
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const problem of error.problems) paths.push(`${problem.file}\n${problem.path}`);
    }
    return { named, paths };
  };
  let trial: NodeJS.ProcessEnv = env;
  let before = problemsWith(trial);
  const unset = [...new Set(before.named.flat())].filter((name) => env[name] === undefined);
  for (const name of unset.slice(0, MAX_STAND_INS)) {
    for (const value of STAND_INS) {
      const candidate = { ...trial, [name]: value };
      const after = problemsWith(candidate);
      // The variable's fields are right now, and no field is wrong that was not before.
      if (after.named.some((names) => names.includes(name))) continue;
      if (after.paths.some((path) => !before.paths.includes(path))) continue;
      trial = candidate;
      before = after;
      break;
    }
  }
  return trial;
}

/** One load of the text with `env` as it is. */
function parseOnce(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv,
  options: LoadOptions,
  undecodable: Undecodable | undefined,
): GatewayConfig {
  const secrets = options.secrets ?? 'required';
  const label = /^<.*>$/.test(source);
  const baseDir = label ? process.cwd() : dirname(resolve(source));
  // Without its secrets, the machine's variables may be missing too (a password in
  // `${REDIS_PASSWORD}`): an unset one is empty, listed as not set, and named where its field fails.
  const lenient = secrets === 'may-be-absent';
  const yaml = readYamlSource(text, env, coerceExpanded, lenient ? 'empty' : 'refuse');
  // The included files' routes, upstreams and plugins join the document before any check, each problem
  // in one told in its own file (included.writtenIn).
  const included = applyIncludes(
    yaml.syntaxErrors.length === 0 ? yaml.value : undefined,
    source,
    yaml.locate,
    env,
    lenient ? 'empty' : 'refuse',
    yaml.valueErrors,
  );
  const variablesAt = tellVariables(source, yaml.variables, included.variables, options);
  const fromEnvironment = [...yaml.fromEnvironment, ...included.fromEnvironment];
  // A problem quotes what it found, and a value the environment gave is a secret as often as not
  // (`Bearer ${API_TOKEN}`): it reads `${API_TOKEN}` there, as GET /config shows it.
  const asWritten = problemTemplates(fromEnvironment);
  // `file\nfield` → the route field written as `off`, `~`, … where `false` was meant (below).
  const offHints = new Map<string, string>();
  const { problems, toProblem } = problemList(source, (key, said) => {
    options.onProblemVariables?.(variablesAt.get(key) ?? []);
    const hint = offHints.get(key);
    const told =
      hint === undefined ? said : `${said}; to take no route_defaults.${hint} here, write ${hint}: false`;
    return variableNotes(variablesAt.get(key) ?? [], asWritten(told), env, lenient);
  });
  // Before any check: a route that took a default is checked as if it had written it, and a
  // problem in it is told where it is written, once (`seen`), not once per route.
  const { taken, idle, meantOff } = applyRouteDefaults(yaml.value);
  const placeOf = placesOf(taken, included, source, yaml.locate);
  for (const { index, field } of meantOff) {
    const { file, path } = placeOf(['routes', index, field], 'value');
    offHints.set(`${file}\n${formatPath(path)}`, field);
  }
  for (const problem of included.problems) {
    const { line, column } = problem.locate(problem.path, problem.at);
    toProblem(problem.path, line, column, problem.message, problem.file);
  }
  const named = routesAsWritten(included, source);
  const toWarning = warningsTo(placeOf, asWritten, options.warnings, named);
  for (const { index, field, message } of idle) toWarning(['routes', index, field], message, 'key');
  if (undecodable !== undefined) {
    // First, so that the field's own check (which would quote the U+FFFD) does not speak for it.
    const { line, column } = yaml.positionAt(undecodable.offset);
    toProblem(yaml.fieldAt(undecodable.offset), line, column, NOT_UTF8(undecodable.byte));
  }
  for (const issue of [...yaml.syntaxErrors, ...yaml.valueErrors]) {
    toProblem(issue.path, issue.position.line, issue.position.column, issue.message);
  }
  if (yaml.syntaxErrors.length === 0) {
    const report: Report = (field, message, at = 'value') => {
      const { file, path, position } = placeOf(field, at);
      toProblem(path, position.line, position.column, named(message, file), file);
    };
    const warn: Report = (field, message, at = 'value') =>
      toWarning(field, message, at === 'parent' ? 'key' : at);
    const checks: DocumentChecks = { report, warn, elsewhere: takenFrom(taken, placeOf) };
    checkDocument(yaml.value, baseDir, env, secrets, checks);
  }
  if (problems.length > 0) {
    throw new ConfigError(withoutMisspeltRequired(problems).sort(byFileAndLine(source)));
  }
  const normalized = toGatewayConfig(yaml.value as RawConfig, label ? source : resolve(source), baseDir);
  const config = deepFreeze(fromEnvironment.length === 0 ? normalized : { ...normalized, fromEnvironment });
  // A field an included file writes (its plugin) is kept at its own file and line.
  keepFieldLines(
    config,
    fieldLinesOf(yaml.value, (path, prefer) => {
      const written = included.writtenIn(path);
      if (written === undefined) return yaml.locate(path, prefer);
      return { file: written.file, ...written.locate(written.path, prefer) };
    }),
  );
  // What only the loaded config shows (a target that is the gateway's own listener, ...), at its line.
  if (options.warnings !== undefined)
    // Told at route_defaults, the way out is the route's, not the default's (`cache: false` on it).
    for (const { path, message, fromDefault } of fieldWarnings(config))
      toWarning(
        path,
        fromDefault !== undefined && writtenAt(taken, path) !== path ? fromDefault : message,
        'key',
      );
  for (const [index, fields] of taken) {
    // A route of an included file as that file writes it: the document's numbering follows the main file's routes.
    const written = included.writtenIn(['routes', index]);
    const route = { path: formatPath(written?.path ?? ['routes', index]), file: written?.file };
    options.onRouteDefaults?.(route, config.routes[index]?.name ?? '', fields);
  }
  return config;
}

/** Where a problem is told: in its file, once per field, as written, naming the variable it read as empty. */
type ToProblem = (
  path: readonly (string | number)[],
  line: number,
  column: number,
  message: string,
  file?: string,
) => void;

/** The problems found so far, and how each is added. */
function problemList(
  source: string,
  told: (key: string, message: string) => string,
): { problems: ConfigProblem[]; toProblem: ToProblem } {
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  const undecoded = new Set<string>();
  const toProblem: ToProblem = (path, line, column, message, file = source) => {
    const formatted = formatPath(path);
    // One problem per field: a value that failed to expand would otherwise also fail its type.
    // But an include pattern is one field for many files, each refused for its own reason (one a
    // folder, one a cycle): told one a run, a conf.d/ of them took as many runs to see.
    const key = path[0] === 'include' ? `${file}\n${formatted}\n${message}` : `${file}\n${formatted}`;
    if (formatted !== '' && seen.has(key)) return;
    // A file's first byte that is not UTF-8 is told first, at its field: a problem that would
    // quote that field's U+FFFD is not told after it. The document's own ('', a file of one line
    // of Latin-1 text, "expected a mapping … got") is no field the line above keeps once.
    if (message.includes('\ufffd') && undecoded.has(`${file}\n${formatted}`)) return;
    if (isNotUtf8(message)) undecoded.add(`${file}\n${formatted}`);
    seen.add(key);
    problems.push({ file, line, column, path: formatted, message: told(`${file}\n${formatted}`, message) });
  };
  return { problems, toProblem };
}

/** Where the checks tell problems and warnings, and how they name a field a route took from route_defaults. */
interface DocumentChecks {
  readonly report: Report;
  readonly warn: Report;
  readonly elsewhere: WrittenElsewhere;
}

/** Every check of a document whose YAML parsed: its schema, fields against each other, the files and secrets it names. */
function checkDocument(
  document: unknown,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  secrets: SecretPresence,
  { report, warn, elsewhere }: DocumentChecks,
): void {
  checkSchema(document, report);
  checkCrossFields(document, report, warn, elsewhere);
  checkFiles(document, baseDir, report, secrets);
  checkAcme(document, baseDir, report);
  checkDns01(document, env, report, secrets);
  checkAdmin(document, baseDir, env, report, secrets);
  checkOidc(document, env, report, secrets);
  checkTracingPackages(document, report);
}

/**
 * Tells each `${NAME}` without a default to `onVariable` (an included file's with its file), and
 * returns the variables each field names, keyed `file\nfield` (the main file's and the included
 * files', each field as its file writes it): a problem at the field names them (variableNotes).
 */
function tellVariables(
  source: string,
  variables: readonly { readonly name: string; readonly path: readonly PathSegment[] }[],
  included: Included['variables'],
  options: LoadOptions,
): Map<string, string[]> {
  const namedAt = new Map<string, string[]>();
  const add = (key: string, name: string) => {
    const names = namedAt.get(key);
    if (names === undefined) namedAt.set(key, [name]);
    else if (!names.includes(name)) names.push(name);
  };
  for (const { name, path } of variables) {
    options.onVariable?.(name, formatPath(path));
    add(`${source}\n${formatPath(path)}`, name);
  }
  for (const { name, file, path } of included) {
    options.onVariable?.(name, `${file}: ${formatPath(path)}`);
    add(`${file}\n${formatPath(path)}`, name);
  }
  return namedAt;
}

/**
 * What a problem at a field adds about the variables the field names, the ones its words do not
 * name already (a value of 4 characters or more is quoted as `${NAME}`): one unset read as empty
 * (`lenient`, without its secrets), one set but empty, one whose value is quoted as it is. A value
 * is never told: a short one is in the quote already, a longer one may be a secret.
 */
function variableNotes(
  names: readonly string[],
  said: string,
  env: NodeJS.ProcessEnv,
  lenient: boolean,
): string {
  const notes: string[] = [];
  for (const name of names) {
    if (said.includes(`\${${name}}`) || said.includes(`variable ${name} `)) continue;
    const value = env[name];
    if (value === undefined) {
      if (lenient) notes.push(`environment variable ${name} is not set here: read as empty`);
    } else
      notes.push(
        value === '' ? `environment variable ${name} is empty` : `from environment variable ${name}`,
      );
  }
  return notes.length === 0 ? said : `${said} (${notes.join('; ')})`;
}
