import http from 'node:http';
import { readAdminTokenSource } from '../../core/config/admin-checks.ts';
import { ConfigError, type ConfigProblem, formatConfigProblems } from '../../core/config/config-error.ts';
import { loadConfigFile } from '../../core/config/load.ts';
import { EXIT } from './exit-codes.ts';

/**
 * `candor reload --config FILE`: asks the running gateway to reload, through its admin API
 * (the address and token come from FILE's `admin` section, the file the gateway runs), and
 * prints the answer: which workers swapped, or every problem of a refused file. A file this
 * command cannot read as valid is reported here and nothing is sent: the gateway would
 * refuse it the same way.
 */
export async function runReload(file: string): Promise<number> {
  let admin: NonNullable<Awaited<ReturnType<typeof loadConfigFile>>['admin']>;
  try {
    const config = await loadConfigFile(file);
    if (config.admin === undefined) {
      process.stderr.write(
        `candor: ${file} has no admin section: the gateway has no admin API to ask (send it SIGHUP instead)\n`,
      );
      return EXIT.usage;
    }
    admin = config.admin;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${formatConfigProblems(err.problems)}\nnothing sent: the running config stays\n`);
      return EXIT.config;
    }
    throw err;
  }
  const token = readAdminTokenSource(admin.token, process.env);
  if ('problem' in token) {
    process.stderr.write(`candor: ${token.problem}\n`);
    return EXIT.config;
  }
  let answer: { status: number; body: Record<string, unknown> };
  try {
    answer = await post(admin.host, admin.port, '/reload', token.token);
  } catch (err) {
    process.stderr.write(
      `candor: cannot reach the admin API at ${admin.address}: ${(err as Error).message}\n`,
    );
    return EXIT.unavailable;
  }
  const report = (answer.status === 200 ? answer.body : answer.body.reload) as
    | {
        result: string;
        config_hash: string;
        problems?: ConfigProblem[];
        workers: { confirmed: number[]; failed: { id: number; reason: string }[] };
      }
    | undefined;
  if (answer.status === 200 && report) {
    process.stdout.write(
      `reloaded: config ${report.config_hash}, workers ${report.workers.confirmed.join(', ')} swapped\n`,
    );
    return EXIT.ok;
  }
  if (answer.status === 400 && report?.problems) {
    process.stderr.write(
      `${formatConfigProblems(report.problems)}\nreload refused: the running config stays\n`,
    );
    return EXIT.config;
  }
  if (report?.result === 'incomplete') {
    const failed = report.workers.failed.map((w) => `worker ${w.id}: ${w.reason}`).join('; ');
    process.stderr.write(`candor: reload incomplete: ${failed}\n`);
    return EXIT.unavailable;
  }
  process.stderr.write(
    `candor: the admin API answered ${answer.status}: ${String(answer.body.detail ?? '')}\n`,
  );
  return EXIT.unavailable;
}

function post(
  host: string,
  port: number,
  path: string,
  token: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host,
      port,
      path,
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      agent: false,
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.end();
  });
}
