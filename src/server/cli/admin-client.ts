import http from 'node:http';
import { readAdminTokenSource } from '../../core/config/admin-checks.ts';
import { readBootstrap } from '../../core/config/bootstrap-file.ts';
import { isBootstrapFile } from '../../core/config/bootstrap-sniff.ts';
import { ConfigError, formatConfigProblems } from '../../core/config/config-error.ts';
import { loadConfigFile } from '../../core/config/load.ts';
import { printable } from '../../core/printable.ts';
import { EXIT } from '../cluster/exit-codes.ts';
import { runningFile } from '../fleet/last-good.ts';

/** Where a command reaches the running gateway's admin API, and with which token. */
export interface AdminTarget {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  readonly token: string;
}

/**
 * The admin API named by FILE's `admin` section, for the commands that ask the running gateway
 * (`reload`, `purge`); an exit code, said on stderr, when FILE cannot name one.
 */
export async function adminTargetOf(file: string, instead: string): Promise<AdminTarget | number> {
  let admin: NonNullable<Awaited<ReturnType<typeof loadConfigFile>>['admin']>;
  try {
    const config = await loadConfigFile(configRunBy(file));
    if (config.admin === undefined) {
      process.stderr.write(
        `candor: ${file} has no admin section: the gateway has no admin API to ask${instead}\n`,
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
  return { host: admin.host, port: admin.port, address: admin.address, token: token.token };
}

/** One admin API call: its status and JSON answer (bounded: 30 s). */
export function callAdmin(
  target: AdminTarget,
  method: 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((done, reject) => {
    const req = http.request({
      host: target.host,
      port: target.port,
      path,
      method,
      headers: {
        authorization: `Bearer ${target.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      agent: false,
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          // Reached, but not the admin API's JSON (another server on that port): an answer the
          // command tells as such (unexpectedAnswer), not as an address it could not reach.
        }
        const body = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
        done({ status: res.statusCode ?? 0, body });
      });
    });
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/**
 * The line for an answer the command cannot read as the admin API's: its own `detail` when it
 * has one, its control characters escaped (whatever answered there wrote it, and the line goes
 * to a terminal); else word that what answered at that address did not speak as Candor's admin
 * API does (another server on the port), not an empty detail.
 */
export function unexpectedAnswer(
  target: AdminTarget,
  answer: { status: number; body: Record<string, unknown> },
): string {
  const { detail } = answer.body;
  return typeof detail === 'string' && detail !== ''
    ? `candor: the admin API answered ${answer.status}: ${printable(detail, true)}\n`
    : `candor: ${target.address} answered ${answer.status}, not as Candor's admin API answers (no JSON with a detail): is it the admin listener of the gateway this file runs?\n`;
}

/**
 * The line for a 401: the token FILE gives is not the one the gateway holds, which it read at its
 * start or its last reload. A token rotated in the file (or its variable) since then is refused
 * until a reload reads it, which `candor reload` cannot ask with the new token: a signal can.
 * "The token is not the admin token" alone sent the operator looking for a typo.
 */
export function refusedToken(target: AdminTarget, file: string): string {
  return (
    `candor: the admin API at ${target.address} refused the token ${file} gives: the gateway holds the token it read at its start or its last reload.\n` +
    `  If the token was rotated since (admin.token_file's content, admin.token_env's variable), reload by signal: kill -HUP <the primary's pid> (the start line's, or --pid-file's); the new token works after it.\n` +
    `  Otherwise ${file} is not the file the gateway runs, or its admin section names another gateway's admin API.\n`
  );
}

/**
 * The line for an admin API that did not answer at the address FILE names. The gateway listens
 * where it read `admin.listen` at its start or last reload: one moved in the file since (which a
 * reload applies) is not there yet, and the bare "cannot reach" read as a gateway that is down.
 */
export function unreachable(target: AdminTarget, file: string, err: Error): string {
  return (
    `candor: cannot reach the admin API at ${target.address}: ${err.message}\n` +
    `  If admin.listen was changed in ${file} since the gateway read it, its admin API is still where it was: reload by signal, kill -HUP <the primary's pid> (the start line's, or --pid-file's). Otherwise the gateway is not running, or not with this file.\n`
  );
}

/**
 * The config a command reads for the gateway FILE names: FILE, or, for a fleet's bootstrap file
 * (what `serve` was given), the config that gateway composed and runs in its state folder (the
 * document from etcd with the bootstrap's `local` section: its admin API, its routes). A
 * bootstrap's own fields are no config's: read as one, it was refused as a broken config.
 */
export function configRunBy(file: string): string {
  return isBootstrapFile(file) ? runningFile(readBootstrap(file).state) : file;
}
