import { resolve } from 'node:path';
import { readBootstrap } from '../../core/config/bootstrap-file.ts';
import { isBootstrapFile } from '../../core/config/bootstrap-sniff.ts';
import { type ConfigProblem, formatConfigProblems } from '../../core/config/config-error.ts';
import { EXIT } from '../cluster/exit-codes.ts';
import { runningFile } from '../fleet/last-good.ts';
import { adminTargetOf, callAdmin, refusedToken, unexpectedAnswer, unreachable } from './admin-client.ts';

/** The admin API's answer to POST /reload, in any of its forms (README "Admin API"). */
interface ReloadAnswer {
  readonly result: 'ok' | 'invalid' | 'incomplete' | 'not_running_file';
  readonly file?: string;
  readonly config_hash?: string;
  readonly problems?: ConfigProblem[];
  readonly workers?: { confirmed: number[]; failed: { id: number; reason: string }[] };
  /** Every worker failed to swap and the primary went back (ReloadReport.reverted). */
  readonly reverted?: true;
  readonly running_file?: string;
}

/**
 * `candor reload --config FILE`: asks the running gateway to reload, through its admin API
 * (the address and token come from FILE's `admin` section), and prints the answer: the file
 * read and which workers swapped, or every problem of a refused file.
 *
 * A reload reads the file the gateway was started with, never another: FILE is sent by name,
 * and the gateway refuses (409, nothing read) when it is not that file (a symlink to it is
 * it). The command then exits 64 naming the file the gateway runs; a second file needs a
 * restart. A file this command cannot read as valid is reported here and nothing is sent: the
 * gateway would refuse it the same way. A reload is whole or nothing: when any part of the
 * file cannot be applied by a reload (a setting only a restart changes), nothing is applied,
 * each refused part is printed (field and why) and the command exits 78.
 */
export async function runReload(file: string): Promise<number> {
  // A fleet's gateway runs the document under its etcd key: a push reloads every gateway.
  if (isBootstrapFile(file)) {
    const { etcd, state } = readBootstrap(file);
    process.stderr.write(
      `candor: ${file} is the bootstrap of a fleet's gateway, which runs ${runningFile(state)}, composed from the document under ${etcd.key} in etcd: nothing was sent\n` +
        `  change the fleet's config with: candor config push DOCUMENT --config ${file}\n` +
        `  or read again the revision it runs with: candor reload --config ${runningFile(state)}\n`,
    );
    return EXIT.usage;
  }
  const named = resolve(file);
  const target = await adminTargetOf(file, ' (send it SIGHUP instead)');
  if (typeof target === 'number') return target;
  let answer: { status: number; body: Record<string, unknown> };
  try {
    answer = await callAdmin(target, 'POST', '/reload', { file: named });
  } catch (err) {
    process.stderr.write(unreachable(target, file, err as Error));
    return EXIT.unavailable;
  }
  const report = (answer.status === 200 ? answer.body : answer.body.reload) as ReloadAnswer | undefined;
  if (answer.status === 200 && report?.result === 'ok') {
    const swapped = report.workers?.confirmed ?? [];
    // No worker alive (each waiting out a crash backoff): its replacement starts on this config.
    const workers =
      swapped.length === 0
        ? 'no worker running (each starts on this config)'
        : `workers ${swapped.join(', ')} swapped`;
    process.stdout.write(`reloaded ${report.file}: config ${report.config_hash}, ${workers}\n`);
    return EXIT.ok;
  }
  if (answer.status === 409 && report?.result === 'not_running_file') {
    process.stderr.write(
      `candor: the gateway runs ${report.running_file}, not ${named}: a reload reads only the file the gateway runs; nothing was read or changed\n` +
        `  edit ${report.running_file} and run: candor reload --config ${report.running_file}\n` +
        `  or restart the gateway with: candor serve --config ${named}\n`,
    );
    return EXIT.usage;
  }
  if (answer.status === 400 && report?.problems) {
    process.stderr.write(
      `${formatConfigProblems(report.problems)}\nreload of ${report.file ?? named} refused: nothing changed, the running config stays\n`,
    );
    return EXIT.config;
  }
  if (report?.result === 'incomplete' && report.reverted === true) {
    const failed = report.workers?.failed.map((w) => `worker ${w.id}: ${w.reason}`).join('; ');
    process.stderr.write(
      `candor: reload of ${report.file ?? named} refused by every worker (${failed}): nothing changed, the running config stays\n`,
    );
    return EXIT.unavailable;
  }
  if (report?.result === 'incomplete') {
    const swapped = report.workers?.confirmed ?? [];
    const failed = report.workers?.failed.map((w) => `worker ${w.id}: ${w.reason}`).join('; ');
    process.stderr.write(
      `candor: reload of ${report.file ?? named} incomplete: ${swapped.length === 0 ? 'no worker swapped' : `swapped by worker(s) ${swapped.join(', ')}`}; not confirmed by ${failed}\n`,
    );
    return EXIT.unavailable;
  }
  process.stderr.write(answer.status === 401 ? refusedToken(target, file) : unexpectedAnswer(target, answer));
  return EXIT.unavailable;
}
