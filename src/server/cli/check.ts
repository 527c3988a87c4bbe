import { ConfigError, formatConfigProblems } from '../../core/config/config-error.ts';
import { loadConfigFile } from '../../core/config/load.ts';
import { configWarnings } from '../../core/config/warnings.ts';
import { EXIT } from './exit-codes.ts';

/** `candor check FILE`: validate only; every problem is printed with file, line and field. */
export async function runCheck(file: string): Promise<number> {
  try {
    const config = await loadConfigFile(file);
    const routes = config.routes.length;
    const upstreams = Object.keys(config.upstreams).length;
    process.stdout.write(
      `${file}: ok (gateway "${config.name}", ${config.listen.length} listener(s), ${routes} route(s), ${upstreams} upstream(s))\n`,
    );
    for (const warning of configWarnings(config)) process.stderr.write(`${file}: warning: ${warning}\n`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(formatConfigProblems(err.problems) + '\n');
      return EXIT.config;
    }
    throw err;
  }
}
