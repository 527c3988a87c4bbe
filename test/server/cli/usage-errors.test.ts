/**
 * A command line the commands refuse, as the user reads it: the command named, the option named
 * in our words (not Node's parseArgs text, whose hint about `--` ended on an unclosed quote), and
 * the help that answers it (diagnose and explain have their own). `candor help COMMAND` is that
 * command's help.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { VERSION } from '../../../src/core/version.ts';
import { DIAGNOSE_HELP } from '../../../src/server/cli/diagnose.ts';
import { EXPLAIN_HELP } from '../../../src/server/cli/explain.ts';
import { HELP } from '../../../src/server/cli/help.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const refused = (said: string, help = 'candor --help') => ({
  code: 64,
  stdout: '',
  stderr: `${said}\nRun "${help}" for usage.\n`,
});

test('an unknown option names the command and the option, and points at the help that has it', async () => {
  assert.deepEqual(
    await run(['check', '--frob', 'x.yaml']),
    refused("candor check: unknown option '--frob'"),
  );
  assert.deepEqual(await run(['serve', '--frob']), refused("candor serve: unknown option '--frob'"));
  assert.deepEqual(
    await run(['explain', '--frob', 'x.log']),
    refused("candor explain: unknown option '--frob'", 'candor explain --help'),
  );
  assert.deepEqual(
    await run(['diagnose', '-Z', 'http://127.0.0.1:9/']),
    refused("candor diagnose: unknown option '-Z'", 'candor diagnose --help'),
  );
});

test('an option without its value, and an argument a command takes none of, are said so', async () => {
  assert.deepEqual(
    await run(['diagnose', 'http://127.0.0.1:9/', '--timeout']),
    refused("candor diagnose: option '--timeout <value>' needs a value", 'candor diagnose --help'),
  );
  assert.deepEqual(
    await run(['serve', '--config']),
    refused("candor serve: option '-c, --config <value>' needs a value"),
  );
  assert.deepEqual(
    await run(['serve', 'x.yaml']),
    refused("candor serve: unexpected argument 'x.yaml' (it takes none: a config file is --config FILE)"),
  );
});

test('candor help COMMAND is that command’s help; an unknown one is refused', async () => {
  assert.deepEqual(await run(['help', 'diagnose']), { code: 0, stdout: DIAGNOSE_HELP, stderr: '' });
  assert.deepEqual(await run(['help', 'explain']), { code: 0, stdout: EXPLAIN_HELP, stderr: '' });
  assert.deepEqual(await run(['help', 'check']), { code: 0, stdout: HELP, stderr: '' });
  assert.deepEqual(await run(['help', 'frobnicate']), refused('candor: unknown command "frobnicate"'));
});

test("candor fleet and candor config given a gateway's config for --config say it is no bootstrap file, before reading it as one", async () => {
  const dir = tempDir('candor-usage-');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'gateway.yaml');
  writeFileSync(config, 'listen: [{ address: 127.0.0.1:8080 }]\nroutes: []\nupstreams: {}\n');
  const bootstrap = join(dir, 'bootstrap.yaml');
  writeFileSync(
    bootstrap,
    'source:\n  etcd: { endpoints: [http://127.0.0.1:9], key: /candor/config }\nstate: /tmp\n',
  );
  const notBootstrap = `${config} has no source: it is a gateway's config, not a fleet's bootstrap file (source: { etcd: … }; docs/fleet.md)`;
  assert.deepEqual(
    await run(['fleet', 'status', '--config', config]),
    refused(`candor fleet status: --config ${notBootstrap}`),
  );
  // The two files the other way round: the bootstrap is --config, the file pushed the argument.
  assert.deepEqual(
    await run(['config', 'push', bootstrap, '--config', config]),
    refused(
      `candor config push: --config ${notBootstrap}; the bootstrap is --config, the file pushed the argument`,
    ),
  );
});

test('a typo of a command or of one of its options is said with the one meant; a word near none is said alone', async () => {
  assert.deepEqual(
    await run(['chek', 'x.yaml']),
    refused('candor: unknown command "chek" (did you mean "check"?)'),
  );
  assert.deepEqual(
    await run(['--versoin']),
    refused('candor: unknown command "--versoin" (did you mean "--version"?)'),
  );
  assert.deepEqual(
    await run(['check', '--confg', 'x.yaml']),
    refused("candor check: unknown option '--confg' (did you mean '--config'?)"),
  );
  assert.deepEqual(
    await run(['serve', '--worker', '2']),
    refused("candor serve: unknown option '--worker' (did you mean '--workers'?)"),
  );
  assert.deepEqual(
    await run(['check', '--without-secret', 'x.yaml']),
    refused("candor check: unknown option '--without-secret' (did you mean '--without-secrets'?)"),
  );
  assert.deepEqual(await run(['frobnicate']), refused('candor: unknown command "frobnicate"'));
});

test('serve without --config or --demo is a usage error said as the others are, with the help', async () => {
  assert.deepEqual(await run(['serve']), refused('candor serve: needs --config FILE (or --demo)'));
});

test('a command missing its file says its name once (it was "candor: candor reload needs …")', async () => {
  assert.deepEqual(await run(['check']), refused('candor check: needs a config file (candor check FILE)'));
  assert.deepEqual(
    await run(['check', 'a.yaml', 'b.yaml']),
    refused('candor check: checks one config file (candor check FILE)'),
  );
  assert.deepEqual(
    await run(['reload']),
    refused('candor reload: needs the config file the gateway runs (candor reload --config FILE)'),
  );
  assert.deepEqual(
    await run(['reload', 'a.yaml', 'b.yaml']),
    refused('candor reload: reloads the one file the gateway runs (candor reload --config FILE)'),
  );
  assert.deepEqual(
    await run(['purge']),
    refused('candor purge: needs the config file the gateway runs (candor purge --config FILE)'),
  );
  assert.deepEqual(
    await run(['purge', '--config', 'a.yaml', '--key', 'k']),
    refused('candor purge: --key purges within a route: add --route NAME'),
  );
  const dir = tempDir('candor-usage-');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const bootstrap = join(dir, 'bootstrap.yaml');
  writeFileSync(
    bootstrap,
    `source:\n  etcd: { endpoints: [http://127.0.0.1:9], key: /candor/config }\nstate: ${dir}/state\nlocal:\n  name: edge-1\n`,
  );
  assert.deepEqual(
    await run(['config', 'push', 'a.yaml', 'b.yaml', '--config', bootstrap]),
    refused('candor config push: takes one file (candor config push FILE --config BOOTSTRAP)'),
  );
  assert.deepEqual(
    await run(['explain']),
    refused('candor explain: needs at least one log file (candor explain LOG...)', 'candor explain --help'),
  );
});

test('--version and --help refuse an argument they do not take, as a command does; --help COMMAND is help COMMAND', async () => {
  assert.deepEqual(
    await run(['--version', 'extra']),
    refused("candor: unexpected argument 'extra' (--version takes none)"),
  );
  assert.deepEqual(
    await run(['-v', 'extra']),
    refused("candor: unexpected argument 'extra' (--version takes none)"),
  );
  // As git reads `git --help log`: the command's help, and a word that is no command refused.
  assert.deepEqual(await run(['--help', 'diagnose']), { code: 0, stdout: DIAGNOSE_HELP, stderr: '' });
  assert.deepEqual(await run(['-h', 'explain']), { code: 0, stdout: EXPLAIN_HELP, stderr: '' });
  assert.deepEqual(await run(['--help', 'extra']), refused('candor: unknown command "extra"'));
  assert.deepEqual(await run(['--help', '--help']), { code: 0, stdout: HELP, stderr: '' });
  assert.deepEqual(await run(['help', '--help']), { code: 0, stdout: HELP, stderr: '' });
  assert.deepEqual(await run(['help', '--version']), { code: 0, stdout: `candor ${VERSION}\n`, stderr: '' });
  assert.deepEqual(
    await run(['help', 'diagnose', 'extra']),
    refused("candor: unexpected argument 'extra' (candor help takes one command: candor help COMMAND)"),
  );
  assert.deepEqual(await run(['--version']), { code: 0, stdout: `candor ${VERSION}\n`, stderr: '' });
});
