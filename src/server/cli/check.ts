import { readBootstrap } from '../../core/config/bootstrap-file.ts';
import { isBootstrapFile } from '../../core/config/bootstrap-sniff.ts';
import {
  ConfigError,
  type ConfigProblem,
  formatConfigProblems,
  formatConfigWarning,
} from '../../core/config/config-error.ts';
import { loadConfigFile } from '../../core/config/load.ts';
import { type NamedSecret, secretAbsent, secretsOf } from '../../core/config/secrets.ts';
import { EXIT } from '../cluster/exit-codes.ts';
import { localProblems, localSecrets } from '../fleet/config-push.ts';

/**
 * `candor check FILE`: validate only; every problem is printed with file, line and field, and
 * so is every warning (on stderr: a route the router's precedence keeps from some of its
 * requests), which does not fail the check.
 * `withoutSecrets` (`--without-secrets`, for CI): an admin token or TLS private key that is not
 * there is no problem; every other check runs (a secret that is there is checked in full),
 * and what `serve` will need from its machine is listed, each with whether it is there: the
 * variables the file uses without a default, then the secrets.
 */
export async function runCheck(file: string, withoutSecrets = false): Promise<number> {
  if (isBootstrapFile(file)) return checkBootstrap(file, withoutSecrets);
  // Each variable once, with every field that uses it.
  const variables = new Map<string, string[]>();
  const warnings: ConfigProblem[] = [];
  const defaulted: string[] = [];
  try {
    const config = await loadConfigFile(file, process.env, {
      secrets: withoutSecrets ? 'may-be-absent' : 'required',
      onVariable: (name, field) => variables.set(name, [...(variables.get(name) ?? []), field]),
      warnings,
      onRouteDefaults: (route, name, fields) =>
        defaulted.push(
          `  ${route.path} "${name}"${route.file === undefined ? '' : ` (${route.file})`}: ${fields.join(', ')}\n`,
        ),
    });
    for (const warning of warnings.sort((a, b) => a.line - b.line || a.column - b.column))
      process.stderr.write(`${formatConfigWarning(warning)}\n`);
    const routes = config.routes.length;
    const upstreams = Object.keys(config.upstreams).length;
    const what = withoutSecrets ? 'ok without its secrets' : 'ok';
    process.stdout.write(
      `${file}: ${what} (gateway "${config.name}", ${config.listen.length} listener(s), ${routes} route(s), ${upstreams} upstream(s))\n`,
    );
    // Which route gets which default: a route that writes a field of its own takes none for it.
    if (defaulted.length > 0) process.stdout.write(`route defaults taken:\n${defaulted.join('')}`);
    if (withoutSecrets) process.stdout.write(serveWillNeed(variables, secretsOf(config)));
    return EXIT.ok;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(formatConfigProblems(err.problems) + '\n');
      return EXIT.config;
    }
    throw err;
  }
}

/** `--without-secrets`' list of what `serve` will read from its machine, each with whether it is there. */
function serveWillNeed(
  variables: ReadonlyMap<string, readonly string[]>,
  secrets: readonly NamedSecret[],
): string {
  const needs = [
    ...[...variables].map(([name, fields]) => ({ source: { env: name }, field: fields.join(', ') })),
    ...secrets,
  ].map(({ source, field }) => {
    const where = 'env' in source ? `environment variable ${source.env}` : `file ${source.file}`;
    const env = 'env' in source;
    const here = secretAbsent(source) ? (env ? 'not set here' : 'not here') : env ? 'set here' : 'present';
    return `  ${where} (${field}): ${here}\n`;
  });
  return needs.length === 0 ? 'serve will need nothing more\n' : `serve will need:\n${needs.join('')}`;
}

/**
 * A bootstrap file is checked on its own (its fields, its TLS files, its local section as far
 * as it can be without a document); the document under its key is checked by `candor config
 * push`, with this file's local section.
 */
function checkBootstrap(file: string, withoutSecrets: boolean): number {
  try {
    const secrets = withoutSecrets ? 'may-be-absent' : 'required';
    const bootstrap = readBootstrap(file, process.env, secrets);
    const { etcd, state, name, warnings } = bootstrap;
    for (const warning of warnings) process.stderr.write(`${formatConfigWarning(warning)}\n`);
    const problems = localProblems(bootstrap, secrets);
    if (problems.length > 0) throw new ConfigError(problems);
    process.stdout.write(
      `${file}: ${withoutSecrets ? 'ok without its secrets' : 'ok'} (bootstrap of gateway "${name}": etcd ${etcd.key} on ${etcd.endpoints.length} endpoint(s), state ${state}; its document is checked by candor config push)\n`,
    );
    // As a config's check lists it: the file's variables, then etcd's key and `local`'s secrets.
    if (withoutSecrets)
      process.stdout.write(
        serveWillNeed(bootstrap.needs.variables, [...bootstrap.needs.secrets, ...localSecrets(bootstrap)]),
      );
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${formatConfigProblems(err.problems)}\n`);
    return EXIT.config;
  }
}
