/**
 * The fleet's commands, each given the bootstrap file that names the source: `candor config
 * push FILE | history | rollback REV`, `candor fleet status`.
 */
import { statSync } from 'node:fs';
import { readBootstrap } from '../../core/config/bootstrap-file.ts';
import { isBootstrapFile } from '../../core/config/bootstrap-sniff.ts';
import { documentLabel } from '../../core/config/composed-config.ts';
import { ConfigError, formatConfigProblems, formatConfigWarning } from '../../core/config/config-error.ts';
import { DEFAULTS } from '../../core/config/defaults.ts';
import { readBoundedBytes } from '../../core/config/load.ts';
import { readErrorReason } from '../../core/config/read-error.ts';
import { parseDuration } from '../../core/config/units.ts';
import { firstUndecodable } from '../../core/config/utf8.ts';
import { printable, strictJson } from '../../core/printable.ts';
import { type EtcdClient, EtcdError } from '../../upstream/config-source/etcd-client.ts';
import { etcdTooLarge } from '../../upstream/config-source/etcd-transport.ts';
import { EXIT } from '../cluster/exit-codes.ts';
import {
  type CanaryPlan,
  type CanaryPushResult,
  canaryLine,
  canaryVerdict,
  pushCanary,
} from '../fleet/canary-push.ts';
import {
  configHistory,
  defaultAuthor,
  documentAt,
  type PushResult,
  pushDocument,
} from '../fleet/config-push.ts';
import { etcdClientOf } from '../fleet/fleet-start.ts';
import { fleetLines, fleetStatus } from '../fleet/fleet-status.ts';

const { parseArgs } = process.getBuiltinModule('node:util');

/**
 * What these commands print holds what etcd holds (a gateway's record, a push's author, etcd's
 * own words), which anyone with the fleet's role may write: written to the terminal with its
 * control characters escaped (core/printable.ts), so that no record sets the window's title,
 * the clipboard, or rewrites the lines the operator reads.
 */
const say = (text: string) => process.stdout.write(printable(text));
const tell = (text: string) => process.stderr.write(printable(text));

/** A config canary's looks, one every 10 s, for 5 minutes, unless the push says otherwise. */
const CANARY_WINDOW_MS = 10_000;
const CANARY_JUDGE_FOR_MS = 300_000;

export const FLEET_OPTIONS = {
  config: { type: 'string', short: 'c' },
  author: { type: 'string' },
  'if-revision': { type: 'string' },
  canary: { type: 'string' },
  'judge-for': { type: 'string' },
  'judge-window': { type: 'string' },
  'min-requests': { type: 'string' },
  'no-wait': { type: 'boolean' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `candor config push|history|rollback …` and `candor fleet status …`. */
export async function runFleetCommand(command: 'config' | 'fleet', argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFleetArgs(argv);
  const [verb, ...args] = positionals;
  const wrong = wrongUse(command, verb, values);
  if (wrong !== undefined) return usage(wrong);
  // A gateway's config given for the bootstrap was told as a dozen problems of a bootstrap file
  // (listen, routes: unknown fields; source, state, local: missing), naming no mix-up.
  const config = values.config as string;
  if (isFile(config) && !isBootstrapFile(config)) {
    const swapped = verb === 'push' && args[0] !== undefined && isBootstrapFile(args[0]);
    return usage(
      `--config ${config} has no source: it is a gateway's config, not a fleet's bootstrap file (source: { etcd: … }; docs/fleet.md)${swapped ? '; the bootstrap is --config, the file pushed the argument' : ''}`,
      `candor ${command} ${verb}`,
    );
  }
  const ifRevision = values['if-revision'] === undefined ? undefined : Number(values['if-revision']);
  if (ifRevision !== undefined && !(Number.isSafeInteger(ifRevision) && ifRevision >= 0))
    return usage(`--if-revision must be a revision (a whole number), got "${values['if-revision']}"`);
  try {
    // wrongUse has told a call without --config.
    const bootstrap = readBootstrap(values.config as string);
    for (const warning of bootstrap.warnings) tell(`${formatConfigWarning(warning)}\n`);
    const fleet: FleetCall = {
      values,
      args,
      bootstrap,
      client: etcdClientOf(bootstrap),
      key: bootstrap.etcd.key,
      author: values.author ?? defaultAuthor(),
      ifRevision,
    };
    switch (verb) {
      case 'status':
        return await statusCommand(fleet);
      case 'push':
        return await pushCommand(fleet);
      case 'history':
        return await historyCommand(fleet);
      default:
        return await rollbackCommand(fleet);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      tell(`${formatConfigProblems(err.problems)}\n`);
      return EXIT.config;
    }
    if (err instanceof EtcdError) {
      tell(`candor: ${err.message}\n`);
      return EXIT.unavailable;
    }
    throw err;
  }
}

function parseFleetArgs(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: FLEET_OPTIONS, allowPositionals: true, strict: true });
}

type FleetValues = ReturnType<typeof parseFleetArgs>['values'];

/** One fleet command's call: its flags and arguments, and the source its bootstrap file names. */
interface FleetCall {
  readonly values: FleetValues;
  readonly args: readonly string[];
  readonly bootstrap: ReturnType<typeof readBootstrap>;
  readonly client: EtcdClient;
  readonly key: string;
  readonly author: string;
  readonly ifRevision: number | undefined;
}

/** What is wrong with the verb and flags given (told before the bootstrap file is read), if anything. */
function wrongUse(
  command: 'config' | 'fleet',
  verb: string | undefined,
  values: FleetValues,
): string | undefined {
  const known = command === 'config' ? ['push', 'history', 'rollback'] : ['status'];
  if (verb === undefined || !known.includes(verb))
    return `candor ${command} takes ${known.join(', ')}: candor ${command} ${known[0]} --config BOOTSTRAP`;
  if (values.config === undefined)
    return `candor ${command} ${verb} needs the bootstrap file that names the source: --config BOOTSTRAP`;
  // Read as the working directory, told as a folder that is not there (main.ts's EMPTY_PATH).
  if (values.config === '')
    return 'the bootstrap file\'s path is empty (an unset variable in --config "$VAR"?)';
  const canaryFlag = ['canary', 'judge-window', 'judge-for', 'min-requests', 'no-wait'].find(
    (flag) => values[flag as keyof typeof values] !== undefined,
  );
  if (canaryFlag !== undefined && (verb !== 'push' || values.canary === undefined))
    return `--${canaryFlag} is for a canary push: candor config push FILE --config BOOTSTRAP --canary N`;
  return undefined;
}

/** `candor fleet status`: every gateway's revision; unclean when one is behind, or live ones run what the key no longer holds. */
async function statusCommand({ client, key, values }: FleetCall): Promise<number> {
  const status = await fleetStatus(client, key);
  if (values.json) process.stdout.write(`${strictJson(JSON.stringify(status))}\n`);
  else say(fleetLines(status));
  // Gateways that run a config the key no longer holds are no fleet in order either.
  const keyEmptied = status.latest === 0 && status.gateways.length > 0;
  return keyEmptied || status.gateways.some((g) => g.behind) ? EXIT.unclean : EXIT.ok;
}

/** `candor config push FILE`, as a canary with --canary N. */
async function pushCommand({
  args,
  values,
  client,
  bootstrap,
  key,
  author,
  ifRevision,
}: FleetCall): Promise<number> {
  if (args.length !== 1)
    return usage('takes one file (candor config push FILE --config BOOTSTRAP)', 'candor config push');
  let bytes: Buffer;
  try {
    // Bounded as `candor check` reads a file: a log named by mistake, /dev/zero, is not read whole.
    bytes = await readBoundedBytes(args[0]);
  } catch (err) {
    tell(`candor: cannot read ${args[0]}: ${readErrorReason(err)}\n`);
    return EXIT.config;
  }
  // Checked as bytes: read as text, a Latin-1 byte would be pushed as U+FFFD, never the file's.
  const document = bytes.toString('utf8');
  const undecodable = firstUndecodable(bytes, document);
  const options = {
    expected: ifRevision,
    label: args[0],
    ...(undecodable === undefined ? {} : { undecodable }),
  };
  try {
    if (values.canary !== undefined) {
      const plan = canaryPlan(values);
      if (typeof plan === 'string') return usage(plan);
      const result = await pushCanary(client, bootstrap, document, author, plan, options);
      return toldCanary(result, client, key, values['no-wait'] === true);
    }
    return told(await pushDocument(client, bootstrap, document, author, options), key);
  } catch (err) {
    // A document under `candor check`'s 4 MiB but past etcd's request bound was told as etcd's
    // bare words, exit 69 (etcd unreachable): neither whether it was written nor why. etcd
    // refuses such a request before proposing it, so nothing was written.
    if (!etcdTooLarge(err)) throw err;
    tell(
      `candor: not pushed: etcd refuses a write this large (${err.message}): ${args[0]} is ${bytes.length} bytes, more than etcd takes in one request (its --max-request-bytes, 1.5 MiB unless its members set more); nothing was written, the fleet keeps its config\n`,
    );
    return EXIT.config;
  }
}

/** `candor config history`: the revisions pushed, newest first. */
async function historyCommand({ values, client, key }: FleetCall): Promise<number> {
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!(Number.isSafeInteger(limit) && limit > 0))
    return usage(`--limit must be a count, got "${values.limit}"`);
  const { entries, compactedBefore } = await configHistory(client, key, limit);
  if (values.json) {
    process.stdout.write(
      `${strictJson(JSON.stringify({ key, entries, compactedBefore: compactedBefore ?? null }))}\n`,
    );
    return EXIT.ok;
  }
  for (const e of entries)
    say(
      `${e.revision}  ${e.at}  ${e.author}  ${e.bytes} bytes${e.rollbackOf === undefined ? '' : `  (rollback to ${e.rollbackOf})`}\n`,
    );
  if (entries.length === 0) say(`${key}: no config pushed yet\n`);
  if (compactedBefore !== undefined) say(`(older revisions compacted away before ${compactedBefore + 1})\n`);
  return EXIT.ok;
}

/** `candor config rollback REV`: that revision's document, pushed again. */
async function rollbackCommand({
  args,
  client,
  bootstrap,
  key,
  author,
  ifRevision,
}: FleetCall): Promise<number> {
  const revision = Number(args[0]);
  if (args.length !== 1 || !(Number.isSafeInteger(revision) && revision > 0))
    return usage(
      'candor config rollback takes the revision to go back to: candor config rollback REV --config BOOTSTRAP',
    );
  const old = await documentAt(client, key, revision);
  if ('problem' in old) {
    tell(`candor: ${old.problem}\n`);
    return EXIT.data;
  }
  return told(
    await pushDocument(client, bootstrap, old.document, author, {
      expected: ifRevision,
      rollbackOf: revision,
      // A problem is in the revision taken up again: told there, not at the one it would have become.
      label: documentLabel(key, revision),
      ...(old.undecodable === undefined ? {} : { undecodable: old.undecodable }),
    }),
    key,
  );
}

/** The canary a push names (--canary N, --judge-window, --judge-for, --min-requests), or what is wrong with it. */
function canaryPlan(values: { [name: string]: string | boolean | undefined }): CanaryPlan | string {
  const count = Number(values.canary);
  if (!(Number.isSafeInteger(count) && count > 0))
    return `--canary takes how many gateways run it first (1 or more), got "${values.canary}"`;
  const duration = (flag: string, fallback: number): number | string => {
    const text = values[flag];
    if (text === undefined) return fallback;
    const ms = parseDuration(String(text));
    return ms !== undefined && ms > 0 ? ms : `--${flag} takes a duration such as 10s or 2m, got "${text}"`;
  };
  const windowMs = duration('judge-window', CANARY_WINDOW_MS);
  if (typeof windowMs === 'string') return windowMs;
  const judgeForMs = duration('judge-for', CANARY_JUDGE_FOR_MS);
  if (typeof judgeForMs === 'string') return judgeForMs;
  if (judgeForMs < windowMs)
    return `--judge-for (${judgeForMs} ms) must be at least one --judge-window (${windowMs} ms)`;
  const minRequests =
    values['min-requests'] === undefined ? DEFAULTS.canary.minRequests : Number(values['min-requests']);
  if (!(Number.isSafeInteger(minRequests) && minRequests > 0))
    return `--min-requests takes a count, got "${values['min-requests']}"`;
  return { count, windowMs, judgeForMs, minRequests };
}

/** A canary push's outcome: pushed, then (unless --no-wait) its verdict as it comes; its exit code. */
async function toldCanary(
  result: CanaryPushResult,
  client: EtcdClient,
  key: string,
  noWait: boolean,
): Promise<number> {
  if (!('canary' in result)) {
    if ('refused' in result) {
      tell(`candor: not pushed: ${result.refused}\n`);
      return EXIT.unavailable;
    }
    return told(result, key);
  }
  const canary = result.canary;
  say(
    `${key}: pushed as canary revision ${canary.revision} on ${canary.gateways.join(', ')}; every other gateway keeps revision ${canary.from}; judged every ${canary.window_ms} ms for ${canary.judge_for_ms} ms\n`,
  );
  if (noWait) return EXIT.ok;
  // The gateways judge it whether this command waits or not: a generous bound, then it leaves them to it.
  const until = Date.now() + 3 * canary.judge_for_ms + 60_000;
  const ended = await canaryVerdict(client, key, canary, until);
  if (ended === undefined) {
    say(
      `${key}: canary revision ${canary.revision} still judged; the gateways go on without this command (candor fleet status shows it)\n`,
    );
    return EXIT.unclean;
  }
  say(`${key}: ${canaryLine(ended)}\n`);
  return ended.phase === 'promoted' ? EXIT.ok : EXIT.unclean;
}

/** A push's outcome on the terminal; its exit code. */
function told(result: PushResult, key: string): number {
  if ('pushed' in result) {
    say(`${key}: pushed as revision ${result.pushed} (over revision ${result.from})\n`);
    return EXIT.ok;
  }
  if ('problems' in result) {
    tell(`${formatConfigProblems(result.problems)}\nnot pushed: the fleet keeps its config\n`);
    return EXIT.config;
  }
  if ('canaryRunning' in result) {
    tell(
      `candor: not pushed: a config canary is under way (${canaryLine(result.canaryRunning)}); push again once it is judged (candor fleet status)\n`,
    );
    return EXIT.unavailable;
  }
  const { expected, now, author, at } = result.conflict;
  // Named by --if-revision past where the key is: it never had that revision, and did not move since.
  if (expected > now) {
    tell(
      `candor: not pushed: ${key} is at revision ${now}, before revision ${expected} (--if-revision), which it never had: revision ${now} was pushed by ${author} at ${at}; push over it (--if-revision ${now})\n`,
    );
    return EXIT.unavailable;
  }
  tell(
    `candor: not pushed: ${key} moved since revision ${expected}: revision ${now} was pushed by ${author} at ${at}; read it (candor config history) and push again over it (--if-revision ${now})\n`,
  );
  return EXIT.unavailable;
}

function usage(message: string, who = 'candor'): number {
  tell(`${who}: ${message}\nRun "candor --help" for usage.\n`);
  return EXIT.usage;
}

/** A file that is there to read (a path that is not is left to the bootstrap's reader to tell). */
function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}
