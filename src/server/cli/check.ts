import { ConfigError, formatConfigProblems } from '../../core/config/config-error.ts';
import { loadConfigFile } from '../../core/config/load.ts';
import { secretAbsent, secretsOf } from '../../core/config/secrets.ts';
import { EXIT } from './exit-codes.ts';

/**
 * `candor check FILE`: validate only; every problem is printed with file, line and field.
 * `withoutSecrets` (`--without-secrets`, for CI): an admin token or TLS private key that is not
 * there is no problem; every other check runs (a secret that is there is checked in full),
 * and the secrets `serve` will need are listed, each with whether it is there.
 */
export async function runCheck(file: string, withoutSecrets = false): Promise<number> {
  try {
    const config = await loadConfigFile(file, process.env, {
      secrets: withoutSecrets ? 'may-be-absent' : 'required',
    });
    const routes = config.routes.length;
    const upstreams = Object.keys(config.upstreams).length;
    const what = withoutSecrets ? 'ok without its secrets' : 'ok';
    process.stdout.write(
      `${file}: ${what} (gateway "${config.name}", ${config.listen.length} listener(s), ${routes} route(s), ${upstreams} upstream(s))\n`,
    );
    if (withoutSecrets) {
      const secrets = secretsOf(config);
      const lines = secrets.map(({ source, field }) => {
        const where = 'env' in source ? `environment variable ${source.env}` : `file ${source.file}`;
        const here = secretAbsent(source) ? ('env' in source ? 'not set here' : 'not here') : 'present';
        return `  ${where} (${field}): ${here}\n`;
      });
      process.stdout.write(
        secrets.length === 0 ? 'serve will need no secret\n' : `serve will need:\n${lines.join('')}`,
      );
    }
    return EXIT.ok;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(formatConfigProblems(err.problems) + '\n');
      return EXIT.config;
    }
    throw err;
  }
}
