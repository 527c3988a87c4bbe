/**
 * The fleet's commands, each given the bootstrap file that names the source: `candor config
 * push FILE | history | rollback REV`, `candor fleet status`.
 */
import { readFile } from 'node:fs/promises';
import { readBootstrap } from '../../core/config/bootstrap-file.ts';
import { ConfigError, formatConfigProblems } from '../../core/config/config-error.ts';
import { readErrorReason } from '../../core/config/read-error.ts';
import { EtcdError } from '../../upstream/config-source/etcd-client.ts';
import {
  configHistory,
  defaultAuthor,
  documentAt,
  type PushResult,
  pushDocument,
} from '../fleet/config-push.ts';
import { clientOf } from '../fleet/fleet-start.ts';
import { fleetLines, fleetStatus } from '../fleet/fleet-status.ts';
import { EXIT } from './exit-codes.ts';

const { parseArgs } = process.getBuiltinModule('node:util');

export const FLEET_OPTIONS = {
  config: { type: 'string', short: 'c' },
  author: { type: 'string' },
  'if-revision': { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `candor config push|history|rollback …` and `candor fleet status …`. */
export async function runFleetCommand(command: 'config' | 'fleet', argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: FLEET_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  const [verb, ...args] = positionals;
  const known = command === 'config' ? ['push', 'history', 'rollback'] : ['status'];
  if (verb === undefined || !known.includes(verb))
    return usage(
      `candor ${command} takes ${known.join(', ')}: candor ${command} ${known[0]} --config BOOTSTRAP`,
    );
  if (values.config === undefined)
    return usage(
      `candor ${command} ${verb} needs the bootstrap file that names the source: --config BOOTSTRAP`,
    );
  const ifRevision = values['if-revision'] === undefined ? undefined : Number(values['if-revision']);
  if (ifRevision !== undefined && !(Number.isSafeInteger(ifRevision) && ifRevision >= 0))
    return usage(`--if-revision must be a revision (a whole number), got "${values['if-revision']}"`);
  try {
    const bootstrap = readBootstrap(values.config);
    const client = clientOf(bootstrap);
    const { key } = bootstrap.etcd;
    const author = values.author ?? defaultAuthor();
    switch (verb) {
      case 'status': {
        const status = await fleetStatus(client, key);
        process.stdout.write(values.json ? `${JSON.stringify(status)}\n` : fleetLines(status));
        return status.gateways.some((g) => g.behind) ? EXIT.unclean : EXIT.ok;
      }
      case 'push': {
        if (args.length !== 1)
          return usage('candor config push takes one file: candor config push FILE --config BOOTSTRAP');
        let document: string;
        try {
          document = await readFile(args[0], 'utf8');
        } catch (err) {
          process.stderr.write(`candor: cannot read ${args[0]}: ${readErrorReason(err)}\n`);
          return EXIT.config;
        }
        return told(
          await pushDocument(client, bootstrap, document, author, { expected: ifRevision, label: args[0] }),
          key,
        );
      }
      case 'history': {
        const limit = values.limit === undefined ? 20 : Number(values.limit);
        if (!(Number.isSafeInteger(limit) && limit > 0))
          return usage(`--limit must be a count, got "${values.limit}"`);
        const { entries, compactedBefore } = await configHistory(client, key, limit);
        if (values.json)
          process.stdout.write(
            `${JSON.stringify({ key, entries, compactedBefore: compactedBefore ?? null })}\n`,
          );
        else {
          for (const e of entries)
            process.stdout.write(
              `${e.revision}  ${e.at}  ${e.author}  ${e.bytes} bytes${e.rollbackOf === undefined ? '' : `  (rollback to ${e.rollbackOf})`}\n`,
            );
          if (entries.length === 0) process.stdout.write(`${key}: no config pushed yet\n`);
          if (compactedBefore !== undefined)
            process.stdout.write(`(older revisions compacted away before ${compactedBefore + 1})\n`);
        }
        return EXIT.ok;
      }
      default: {
        const revision = Number(args[0]);
        if (args.length !== 1 || !(Number.isSafeInteger(revision) && revision > 0))
          return usage(
            'candor config rollback takes the revision to go back to: candor config rollback REV --config BOOTSTRAP',
          );
        const old = await documentAt(client, key, revision);
        if ('problem' in old) {
          process.stderr.write(`candor: ${old.problem}\n`);
          return EXIT.data;
        }
        return told(
          await pushDocument(client, bootstrap, old.document, author, {
            expected: ifRevision,
            rollbackOf: revision,
          }),
          key,
        );
      }
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${formatConfigProblems(err.problems)}\n`);
      return EXIT.config;
    }
    if (err instanceof EtcdError) {
      process.stderr.write(`candor: ${err.message}\n`);
      return EXIT.unavailable;
    }
    throw err;
  }
}

/** A push's outcome on the terminal; its exit code. */
function told(result: PushResult, key: string): number {
  if ('pushed' in result) {
    process.stdout.write(`${key}: pushed as revision ${result.pushed} (over revision ${result.from})\n`);
    return EXIT.ok;
  }
  if ('problems' in result) {
    process.stderr.write(
      `${formatConfigProblems(result.problems)}\nnot pushed: the fleet keeps its config\n`,
    );
    return EXIT.config;
  }
  const { expected, now, author, at } = result.conflict;
  process.stderr.write(
    `candor: not pushed: ${key} moved since revision ${expected}: revision ${now} was pushed by ${author} at ${at}; read it (candor config history) and push again over it (--if-revision ${now})\n`,
  );
  return EXIT.unavailable;
}

function usage(message: string): number {
  process.stderr.write(`candor: ${message}\nRun "candor --help" for usage.\n`);
  return EXIT.usage;
}
