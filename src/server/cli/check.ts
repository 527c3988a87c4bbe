import { ConfigError, type ConfigProblem, formatConfigProblems } from '../../core/config/config-error.ts';
import { loadConfigFile } from '../../core/config/load.ts';
import { EXIT } from './exit-codes.ts';

/**
 * `candor check FILE`: validate only; every problem is printed with file, line and field, and
 * so is every warning (on stderr: a route the router's precedence keeps from some of its
 * requests), which does not fail the check.
 */
export async function runCheck(file: string): Promise<number> {
  const warnings: ConfigProblem[] = [];
  try {
    const config = await loadConfigFile(file, process.env, warnings);
    for (const warning of warnings.sort((a, b) => a.line - b.line || a.column - b.column))
      process.stderr.write(`${warningLine(warning)}\n`);
    const routes = config.routes.length;
    const upstreams = Object.keys(config.upstreams).length;
    process.stdout.write(
      `${file}: ok (gateway "${config.name}", ${config.listen.length} listener(s), ${routes} route(s), ${upstreams} upstream(s))\n`,
    );
    return EXIT.ok;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(formatConfigProblems(err.problems) + '\n');
      return EXIT.config;
    }
    throw err;
  }
}

function warningLine(warning: ConfigProblem): string {
  return `${warning.file}:${warning.line}:${warning.column}  ${warning.path}: warning: ${warning.message}`;
}
