import { VERSION } from '../../core/version.ts';
import { EXIT } from '../cluster/exit-codes.ts';
import { parseWorkers } from '../cluster/workers.ts';

// node:util through process.getBuiltinModule, not an import: imported as an ES module it loads
// worker_threads, assert's diff and the stream classes as well, about 1 MiB of the primary's
// memory (test/server/cli/lean-processes.test.ts).
const { parseArgs } = process.getBuiltinModule('node:util');

/** The options each command takes (its --help names each: test/server/cli/help-options.test.ts). */
export const OPTIONS = {
  serve: {
    config: { type: 'string', short: 'c' },
    demo: { type: 'boolean' },
    workers: { type: 'string', short: 'w' },
    'pid-file': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  check: {
    config: { type: 'string', short: 'c' },
    'without-secrets': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  reload: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
  purge: {
    config: { type: 'string', short: 'c' },
    route: { type: 'string' },
    key: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
} as const;

/** The `candor` command line: serve returns its exit code; every other command ends the process with its own. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  // A reader that left (`candor explain app.log | head`, a pager quit) closed the pipe: the rest
  // of the report goes nowhere, and the command still ends with its own code, not as a crash.
  // serve's stdout is its log, whose destination answers for itself.
  if (command !== 'serve') process.stdout.on('error', readerGone);
  // serve's stderr (the primary's and its workers', which share it) is where it says what went
  // wrong, and there is nowhere further to say that stderr broke: a reader gone (journald
  // restarted, `2>&1 | head`: EPIPE), a terminal hung up (EIO). Its error without a listener
  // would end the primary at its next line (a worker replaced), and the gateway with it.
  else process.stderr.on('error', stderrGone);
  // `candor --help diagnose` is `candor help diagnose`, as git reads `git --help log`: the word
  // after it was ignored (exit 0 with the general help), where a command refuses one it does not take.
  if ((command === '--help' || command === '-h') && rest.length > 0) return await main(['help', ...rest]);
  if (command === undefined || command === '--help' || command === '-h') {
    await printHelp();
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  // `candor help diagnose` is `candor diagnose --help`: said as git and npm say it.
  if (command === 'help') {
    if (rest.length > 1)
      return usage(`unexpected argument '${rest[1]}' (candor help takes one command: candor help COMMAND)`);
    const about = rest[0];
    if (about === undefined || about === '--help' || about === '-h') return await main(['--help']);
    // `help --version` stays the version (`--version --help` is now refused: an argument it takes none of).
    if (about === '--version' || about === '-v') return await main([about]);
    return await main([about, '--help']);
  }
  if (command === '--version' || command === '-v') {
    // An argument after it is refused as a command refuses one (it was ignored, with exit 0).
    if (rest.length > 0) return usage(`unexpected argument '${rest[0]}' (--version takes none)`);
    process.stdout.write(`candor ${VERSION}\n`);
    return EXIT.ok;
  }
  if (command === 'serve') return await withUsage(command, () => serveCommand(rest));
  // Every other command reports and ends: the config's plugin modules ran their top-level code
  // in this process (check, reload, purge, diagnose load the config), and a timer one started (a
  // refresh every minute) or a top-level await refused past its deadline would keep it running
  // after its report. The report is out (both streams drained): the command ends there.
  // A crash is no verdict: diagnose's 1 says the target answered a 5xx of its own, and a
  // readiness script must not read a bug (or a throw a config's plugin module left in a timer)
  // as that. Node's default for an uncaught exception is that 1.
  const crashed = (err: unknown) => {
    const said = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`candor ${command}: internal error (exit ${EXIT.software}): ${said}\n`);
    process.exit(EXIT.software);
  };
  process.on('uncaughtException', crashed);
  process.on('unhandledRejection', crashed);
  const code = await withUsage(command, () => oneShot(command, rest)).catch(crashed);
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise((r) => s.write('', r))));
  process.exit(code);
}

/** serve's stderr errors: dropped, the lines after them with them (see main). */
function stderrGone(): void {}

/** Stdout's errors: a closed pipe (EPIPE) is the reader's choice; any other is the command's failure. */
function readerGone(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE') throw err;
}

/** `run`, with a command line parseArgs refused told as a usage error of `command`. */
async function withUsage(command: string, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (err) {
    const said = parseArgsRefusal(err as NodeJS.ErrnoException);
    if (said === undefined) throw err;
    // A typo of one of the command's options (`--confg`, `--worker`) is said with the one meant,
    // as the config's unknown fields are.
    const typo = /^unknown option '(--[^']+)'$/.exec(said)?.[1];
    const options = Object.keys(OPTIONS[command as keyof typeof OPTIONS] ?? {}).map((name) => `--${name}`);
    // Loaded only here: the primary and the workers load none of what they do not run.
    const { didYouMean } = await import('../../core/did-you-mean.ts');
    const meant = typo === undefined ? undefined : didYouMean(typo, options);
    return usage(
      meant === undefined ? said : `${said} (did you mean '${meant}'?)`,
      command,
      OWN_HELP.has(command) ? `candor ${command} --help` : undefined,
    );
  }
}

/** The commands with a --help of their own (the others' is `candor --help`). */
const OWN_HELP = new Set(['diagnose', 'explain']);

/**
 * What parseArgs refused, in this CLI's words. Its own text is written for a program's author:
 * an unknown option came with a hint about `--` that ended on an unclosed quote, and a
 * positional with "This command does not take positional arguments", which names no way out.
 */
function parseArgsRefusal(err: NodeJS.ErrnoException): string | undefined {
  const quoted = /'([^']*)'/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${quoted}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return err.message.endsWith('argument missing')
        ? `option '${quoted}' needs a value`
        : err.message.replace(/^Option/, 'option');
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${quoted}' (it takes none: a config file is --config FILE)`;
    default:
      return err.code?.startsWith('ERR_PARSE_ARGS') ? err.message : undefined;
  }
}

/** A command that reports and ends (every one but serve). */
async function oneShot(command: string, rest: readonly string[]): Promise<number> {
  switch (command) {
    case 'check':
      return await checkCommand(rest);
    case 'reload':
      return await reloadCommand(rest);
    case 'purge':
      return await purgeCommand(rest);
    case 'config':
    case 'fleet':
      if (rest.includes('--help') || rest.includes('-h')) return await help();
      return await (await import('./fleet-commands.ts')).runFleetCommand(command, rest);
    case 'diagnose':
      return await (await import('./diagnose.ts')).runDiagnoseCommand(rest);
    case 'explain':
      return await (await import('./explain.ts')).runExplain(rest);
    default:
      return usage(await unknownCommand(command));
  }
}

/** An unknown command, with the one meant when it is a likely typo (`chek`, `--versoin`). */
async function unknownCommand(command: string): Promise<string> {
  const { didYouMean } = await import('../../core/did-you-mean.ts');
  const meant = didYouMean(command, COMMANDS);
  return `unknown command "${command}"${meant === undefined ? '' : ` (did you mean "${meant}"?)`}`;
}
const COMMANDS = [
  'serve',
  'check',
  'reload',
  'purge',
  'config',
  'fleet',
  'diagnose',
  'explain',
  'help',
  '--help',
  '--version',
];

/** `candor serve --config FILE | --demo [--workers N] [--pid-file PATH]`. */
async function serveCommand(rest: readonly string[]): Promise<number> {
  const { values, tokens } = parseArgs({
    args: [...rest],
    options: OPTIONS.serve,
    tokens: true,
    strict: true,
  });
  if (values.help) return await help();
  const twice = givenTwice(tokens);
  if (twice !== undefined) return usage(twice);
  if (values['pid-file'] === '') return usage('--pid-file needs a path');
  if (values.config === '') return usage(EMPTY_PATH);
  if (values.demo && values.config !== undefined)
    return usage('serve runs --config FILE or --demo, not both');
  // The demo shows two workers' state merged, without one worker per core on a big machine.
  const workers = parseWorkers(values.workers ?? (values.demo ? '2' : undefined));
  if (workers === undefined)
    return usage(`--workers must be a number from 1 to 256, got "${values.workers}"`);
  // Each command loads only its own modules: a gateway worker never pays for explain or diagnose.
  const { runServe } = await import('./serve.ts');
  return await runServe({
    config: values.config,
    demo: values.demo ?? false,
    workers,
    pidFile: values['pid-file'],
  });
}

/** `candor check FILE`. */
async function checkCommand(rest: readonly string[]): Promise<number> {
  const { values, positionals, tokens } = parseArgs({
    args: [...rest],
    options: OPTIONS.check,
    tokens: true,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return await help();
  const twice = givenTwice(tokens);
  if (twice !== undefined) return usage(twice);
  const file = oneFile(values.config, positionals);
  if (file === undefined) return usage('needs a config file (candor check FILE)', 'check');
  if (file === null) return usage('checks one config file (candor check FILE)', 'check');
  if (file === '') return usage(EMPTY_PATH);
  const { runCheck } = await import('./check.ts');
  return await runCheck(file, values['without-secrets'] ?? false);
}

/** `candor reload --config FILE`. */
async function reloadCommand(rest: readonly string[]): Promise<number> {
  const { values, positionals, tokens } = parseArgs({
    args: [...rest],
    options: OPTIONS.reload,
    tokens: true,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return await help();
  const twice = givenTwice(tokens);
  if (twice !== undefined) return usage(twice);
  const file = oneFile(values.config, positionals);
  if (file === undefined)
    return usage('needs the config file the gateway runs (candor reload --config FILE)', 'reload');
  if (file === null)
    return usage('reloads the one file the gateway runs (candor reload --config FILE)', 'reload');
  if (file === '') return usage(EMPTY_PATH);
  return await (await import('./reload.ts')).runReload(file);
}

/** `candor purge --config FILE [--route NAME [--key KEY]]`. */
async function purgeCommand(rest: readonly string[]): Promise<number> {
  const { values, tokens } = parseArgs({
    args: [...rest],
    options: OPTIONS.purge,
    tokens: true,
    strict: true,
  });
  if (values.help) return await help();
  const twice = givenTwice(tokens);
  if (twice !== undefined) return usage(twice);
  if (values.config === undefined)
    return usage('needs the config file the gateway runs (candor purge --config FILE)', 'purge');
  if (values.config === '') return usage(EMPTY_PATH);
  if (values.key !== undefined && values.route === undefined)
    return usage('--key purges within a route: add --route NAME', 'purge');
  return await (await import('./purge.ts')).runPurge(values.config, values.route, values.key);
}

/**
 * An option given twice with two values, which parseArgs settles by keeping the last: `check
 * --config a.yaml --config b.yaml` said "b.yaml: ok" of a command line that named a.yaml too, as
 * a second file given as an argument was refused for (oneFile), and `--pid-file` twice left the
 * first path, the one a script may watch, never written.
 */
function givenTwice(tokens: readonly { kind: string; name?: string; value?: string }[]): string | undefined {
  const seen = new Map<string, string>();
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === undefined || token.value === undefined) continue;
    const before = seen.get(token.name);
    if (before !== undefined && before !== token.value)
      return `--${token.name} given twice ("${before}", "${token.value}"): give it once`;
    seen.set(token.name, token.value);
  }
  return undefined;
}

/**
 * An empty config path is read as the working directory (`resolve('')`), and was told as "cannot
 * read config file /etc/candor: no such file", of a folder that is there. It is most often an
 * unset variable (`--config "$CANDOR_CONFIG"`): said as that, a usage error.
 */
const EMPTY_PATH = 'the config file\'s path is empty (an unset variable in --config "$VAR"?)';

/**
 * The one config file a command names, by `--config` or as its argument; null when it names more
 * than one (a second file silently left unread would be reported on as if checked).
 */
function oneFile(config: string | undefined, positionals: readonly string[]): string | null | undefined {
  const files = config === undefined ? positionals : [config, ...positionals];
  return files.length > 1 ? null : files[0];
}

/**
 * The help lists every log format explain reads, which means loading explain's readers: only
 * when help is asked for, not in every gateway process.
 */
async function printHelp(): Promise<void> {
  process.stdout.write((await import('./help.ts')).HELP);
}

async function help(): Promise<number> {
  await printHelp();
  return EXIT.ok;
}

function usage(message: string, command?: string, help = 'candor --help'): number {
  const who = command === undefined ? 'candor' : `candor ${command}`;
  process.stderr.write(`${who}: ${message}\nRun "${help}" for usage.\n`);
  return EXIT.usage;
}
