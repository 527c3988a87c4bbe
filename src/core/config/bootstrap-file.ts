/**
 * The bootstrap file of a gateway that takes its config from etcd: where the config is
 * (`source.etcd`), where this gateway keeps what it runs (`state`), and the parts it keeps for
 * itself (`local`: its name, listeners, admin and metrics listeners), which the document under
 * the key leaves out. Read with the config's own YAML reader: a problem names file, line and field.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, LineCounter, parseDocument } from 'yaml';
import { unknownFieldMessage } from '../did-you-mean.ts';
import { plainRemoteHost } from '../net/plain-remote-host.ts';
import { coerceExpanded } from './coerce.ts';
import { ConfigError, type ConfigProblem } from './config-error.ts';
import { formatPath } from './config-path.ts';
import { describeValue } from './describe-value.ts';
import { NAME_EXPECTED, NAME_PATTERN } from './formats.ts';
import { readErrorReason } from './read-error.ts';
import type { PathSegment } from './schema.ts';
import { type NamedSecret, type SecretPresence, secretAbsent } from './secrets.ts';
import { readYamlSource } from './yaml-source.ts';

/** The top-level config sections each gateway keeps for itself: a shared document leaves them out. */
export const LOCAL_SECTIONS = ['name', 'listen', 'admin', 'metrics'] as const;

export interface Bootstrap {
  /** The bootstrap file as named. */
  readonly file: string;
  readonly etcd: {
    readonly endpoints: readonly string[];
    readonly key: string;
    /** PEM text read from the files named. */
    readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
    readonly username?: string;
    readonly password?: string;
  };
  /** Absolute: where the config run and the last good one are kept. */
  readonly state: string;
  /** This gateway's name in the fleet: `local.name`, or the machine's host name. */
  readonly name: string;
  /**
   * The `local` section as written (its `${VAR}`s not expanded), dedented, the file line it
   * starts on, and the columns it was dedented by (a column of `text` is `indent` short of the file's).
   */
  readonly local: { readonly text: string; readonly firstLine: number; readonly indent: number };
  /** What is not wrong enough to stop a start but should be said (`candor check`'s warnings, serve's and push's stderr). */
  readonly warnings: readonly ConfigProblem[];
  /**
   * What `serve` will read from its machine beside the file, for `candor check --without-secrets`'s
   * "serve will need" list: each `${NAME}` written without a default with its fields (`local`'s
   * too), and etcd's client key. `local`'s own secrets (an admin token, a listener's key) are
   * its config's (config-push.ts localSecrets).
   */
  readonly needs: {
    readonly variables: ReadonlyMap<string, readonly string[]>;
    readonly secrets: readonly NamedSecret[];
  };
}

/**
 * What `--without-secrets` puts in an endpoint a variable gives whole and this machine does not
 * set (`endpoints: ["${ETCD_URL}"]`), as a config's check does for a URL (load.ts STAND_INS):
 * TEST-NET-1's, never dialled by a check, https so that `tls` and a password both fit it.
 */
const ENDPOINT_STAND_IN = 'https://192.0.2.1:2379';

const TOP = ['source', 'state', 'local'];
const ETCD = ['endpoints', 'key', 'tls', 'username', 'password'];
const TLS = ['ca', 'cert', 'key'];

/**
 * Reads and checks the bootstrap file at `file`; throws ConfigError with every problem.
 * `secrets: 'may-be-absent'` is `candor check --without-secrets` (CI): etcd's password variable
 * unset (read as empty) and its client key absent are no problem, as a config's secrets are not;
 * the flag spared only `local`'s before, and the bootstrap of docs/fleet.md failed the CI check.
 */
export function readBootstrap(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  secrets: SecretPresence = 'required',
): Bootstrap {
  const text = bootstrapText(file);
  const yaml = readYamlSource(text, env, coerceExpanded, secrets === 'may-be-absent' ? 'empty' : 'refuse');
  const problems: ConfigProblem[] = [];
  const report = (path: readonly PathSegment[], message: string, at: 'value' | 'key' = 'value') =>
    problems.push({ file, ...yaml.locate(path, at), path: formatPath(path), message });
  for (const issue of [...yaml.syntaxErrors, ...yaml.valueErrors])
    problems.push({ file, ...issue.position, path: formatPath(issue.path), message: issue.message });
  if (problems.length > 0) throw new ConfigError(problems);
  const root = asMap(yaml.value);
  unknownKeys(root, [], TOP, report);
  const source = asMap(root.source);
  unknownKeys(source, ['source'], ['etcd'], report);
  const etcd = { ...asMap(source.etcd) };
  // Without its secrets (CI), an endpoint a variable unset here gives whole is checked with a stand-in.
  if (secrets === 'may-be-absent' && Array.isArray(etcd.endpoints))
    etcd.endpoints = etcd.endpoints.map((endpoint, i) =>
      endpoint === '' &&
      yaml.variables.some(
        (v) => formatPath(v.path) === `source.etcd.endpoints[${i}]` && env[v.name] === undefined,
      )
        ? ENDPOINT_STAND_IN
        : endpoint,
    );
  if (root.source === undefined)
    report([], "missing required field 'source' (source: { etcd: { endpoints, key } })");
  else if (source.etcd === undefined) report(['source'], "missing required field 'etcd'");
  unknownKeys(etcd, ['source', 'etcd'], ETCD, report);
  const { endpoints, key, password } = checkEtcd(etcd, source.etcd !== undefined, yaml.variables, report);
  const base = dirname(resolve(file));
  const tls = readTls(asMap(etcd.tls), base, etcd.tls !== undefined, report, secrets);
  // TLS is the endpoint's scheme's: given for an http:// endpoint it would be dropped unsaid.
  if (etcd.tls !== undefined)
    endpoints.forEach((endpoint, i) => {
      if (typeof endpoint === 'string' && endpoint.startsWith('http://'))
        report(
          ['source', 'etcd', 'endpoints', i],
          `tls is set but ${endpoint} is plain HTTP, which would send without it: write https://`,
        );
    });
  // etcd's user and password go with every call: over plain http to another machine, in clear.
  const warnings: ConfigProblem[] = [];
  if (etcd.username !== undefined || password !== undefined)
    endpoints.forEach((endpoint, i) => {
      const host = typeof endpoint === 'string' ? plainRemoteHost(endpoint) : undefined;
      if (host !== undefined)
        warnings.push({
          file,
          ...yaml.locate(['source', 'etcd', 'endpoints', i], 'value'),
          path: formatPath(['source', 'etcd', 'endpoints', i]),
          message: `the etcd user and password go to ${host} over plain HTTP, readable on the way: write https:// (plain http only to a loopback address)`,
        });
    });
  if (typeof root.state !== 'string' || root.state === '')
    report(
      ['state'],
      'expected the path of a folder where this gateway keeps the config it runs (e.g. /var/lib/candor)',
    );
  const local = asMap(root.local);
  if (root.local === undefined)
    report([], "missing required field 'local' (this gateway's name, listen, admin, metrics)");
  unknownKeys(local, ['local'], [...LOCAL_SECTIONS], report);
  // The gateway's config takes it as its `name`, which refuses it otherwise: said here, `candor
  // check` on this file would pass it, and `serve` would blame the revision under the key.
  if (local.name !== undefined && !(typeof local.name === 'string' && NAME_PATTERN.test(local.name)))
    report(['local', 'name'], `expected ${NAME_EXPECTED}, got ${describeValue(local.name)}`);
  const written = localText(text);
  if (root.local !== undefined && written.text === '')
    report(['local'], 'expected a block mapping (one field a line: name, listen, admin, metrics), not { … }');
  if (problems.length > 0) throw new ConfigError(problems.sort((a, b) => a.line - b.line));
  return {
    file,
    etcd: {
      endpoints: endpoints as string[],
      key: key as string,
      ...(tls === undefined ? {} : { tls }),
      ...(etcd.username === undefined ? {} : { username: String(etcd.username) }),
      ...(password === undefined ? {} : { password: String(password) }),
    },
    state: resolve(base, root.state as string),
    name:
      typeof local.name === 'string' && local.name !== ''
        ? local.name
        : process.getBuiltinModule('node:os').hostname(),
    local: written,
    warnings,
    needs: {
      variables: yaml.variables.reduce(
        (named, v) => named.set(v.name, [...(named.get(v.name) ?? []), formatPath(v.path)]),
        new Map<string, string[]>(),
      ),
      secrets:
        typeof asMap(etcd.tls).key === 'string'
          ? [{ source: { file: resolve(base, asMap(etcd.tls).key as string) }, field: 'source.etcd.tls.key' }]
          : [],
    },
  };
}

/** The bootstrap file's text; a ConfigError naming the file when it cannot be read. */
function bootstrapText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([
      {
        file,
        line: 0,
        column: 0,
        path: '',
        message: `cannot read bootstrap file ${resolve(file)}: ${readErrorReason(err)}`,
      },
    ]);
  }
}

/** `source.etcd`'s endpoints, key and password (`present`: the section is there), each problem reported. */
function checkEtcd(
  etcd: Record<string, unknown>,
  present: boolean,
  variables: readonly { readonly path: readonly PathSegment[] }[],
  report: (path: readonly PathSegment[], message: string) => void,
): { endpoints: unknown[]; key: unknown; password: unknown } {
  const endpoints = Array.isArray(etcd.endpoints) ? etcd.endpoints : [];
  if (endpoints.length === 0 && present)
    report(['source', 'etcd', 'endpoints'], 'expected a list of one or more URLs like http://127.0.0.1:2379');
  endpoints.forEach((endpoint, i) => {
    if (typeof endpoint !== 'string' || !/^https?:\/\/[^/\s]+\/?$/.test(endpoint))
      report(
        ['source', 'etcd', 'endpoints', i],
        `expected a URL like https://10.0.0.5:2379, got ${JSON.stringify(endpoint)}`,
      );
  });
  const key = etcd.key;
  if (present && (typeof key !== 'string' || !key.startsWith('/') || key.endsWith('/')))
    report(
      ['source', 'etcd', 'key'],
      `expected a key like /candor/config (it starts with /, and the fleet's own keys go under it), got ${JSON.stringify(key)}`,
    );
  const password = etcd.password;
  if (password !== undefined && !variables.some((v) => formatPath(v.path) === 'source.etcd.password'))
    report(
      ['source', 'etcd', 'password'],
      `the password comes from the environment: write password: \${ETCD_PASSWORD}`,
    );
  if (password !== undefined && etcd.username === undefined)
    report(['source', 'etcd', 'password'], 'a password without a username: add username');
  return { endpoints, key, password };
}

function asMap(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function unknownKeys(
  map: Record<string, unknown>,
  at: readonly PathSegment[],
  known: readonly string[],
  report: (path: readonly PathSegment[], message: string, at?: 'value' | 'key') => void,
): void {
  for (const key of Object.keys(map))
    if (!known.includes(key)) report([...at, key], unknownFieldMessage(key, known), 'key');
}

function readTls(
  tls: Record<string, unknown>,
  base: string,
  given: boolean,
  report: (path: readonly PathSegment[], message: string) => void,
  secrets: SecretPresence,
): Bootstrap['etcd']['tls'] {
  if (!given) return undefined;
  unknownKeys(tls, ['source', 'etcd', 'tls'], TLS, report);
  const read: Record<string, string> = {};
  for (const field of TLS) {
    const path = tls[field];
    if (path === undefined) continue;
    try {
      read[field] = readFileSync(resolve(base, String(path)), 'utf8');
    } catch (err) {
      // The private key is a secret: a CI box checks without it (a certificate it still reads).
      if (
        field === 'key' &&
        secrets === 'may-be-absent' &&
        secretAbsent({ file: resolve(base, String(path)) })
      )
        continue;
      report(
        ['source', 'etcd', 'tls', field],
        `cannot read ${resolve(base, String(path))}: ${readErrorReason(err)}`,
      );
    }
  }
  if ((tls.cert === undefined) !== (tls.key === undefined))
    report(
      ['source', 'etcd', 'tls'],
      'a client certificate needs its key, and a key its certificate: give both',
    );
  return read;
}

/**
 * The `local` section's text as written, dedented to the top level, and the line it starts on:
 * appended to the document, it is read as top-level fields, and a problem in it is told at its
 * own line of the bootstrap file. Its `${VAR}`s stay unexpanded: the admin token is not written out.
 */
function localText(text: string): Bootstrap['local'] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const local = isMap(doc.contents)
    ? doc.contents.items.find((pair) => String((pair.key as { value?: unknown })?.value) === 'local')
    : undefined;
  const value = local?.value as { range?: [number, number, number] } | undefined;
  // A flow mapping (`local: { … }`) would not read as top-level fields once dedented.
  if (value?.range === undefined || !isMap(value) || value.flow === true)
    return { text: '', firstLine: 0, indent: 0 };
  const [start, end] = value.range;
  const { line, col } = lineCounter.linePos(start);
  // From the start of the first key's line: its indentation is what every line of the section has.
  const lineStart = start - (col - 1);
  const lines = text.slice(lineStart, end).split('\n');
  const indent = col - 1;
  return {
    text: lines.map((l) => (l.slice(0, indent).trim() === '' ? l.slice(indent) : l)).join('\n'),
    firstLine: line,
    indent,
  };
}
