/**
 * Each command's help names every option the command takes, and no option it does not: an
 * option a user reads about is accepted, and one the command accepts is not a secret
 * (`diagnose --http-port` was). `--help` itself is everywhere; explain's `--stats` is hidden
 * on purpose (the 1 GB measurement's time and memory).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIAGNOSE_HELP, DIAGNOSE_OPTIONS } from '../../../src/server/cli/diagnose.ts';
import { EXPLAIN_HELP, EXPLAIN_OPTIONS } from '../../../src/server/cli/explain.ts';
import { HELP } from '../../../src/server/cli/help.ts';
import { OPTIONS } from '../../../src/server/cli/main.ts';
import { EXIT } from '../../../src/server/cluster/exit-codes.ts';

const HIDDEN = new Set(['help', 'stats']);

/** The long options a help text names, `--help` aside. */
function named(text: string): string[] {
  return [...new Set([...text.matchAll(/(?<![\w-])--([a-z][a-z-]*)/g)].map((m) => m[1]))]
    .filter((name) => !HIDDEN.has(name))
    .sort();
}

const taken = (options: Record<string, unknown>) =>
  Object.keys(options)
    .filter((name) => !HIDDEN.has(name))
    .sort();

/** The lines of `candor --help` about one command (each of its usage lines and what follows them). */
function helpOf(command: string): string {
  const lines = HELP.split('\n');
  const out: string[] = [];
  let mine = false;
  for (const line of lines) {
    const start = /^ {2}candor (\S+)/.exec(line);
    if (start) mine = start[1] === command;
    else if (!line.startsWith('    ')) mine = false;
    if (mine) out.push(line);
  }
  return out.join('\n');
}

test('candor --help names, for serve, check, reload and purge, each option each takes and no other', () => {
  for (const [command, options] of Object.entries(OPTIONS))
    assert.deepEqual(named(helpOf(command)), taken(options), `candor ${command}`);
});

test('candor diagnose --help and candor explain --help name each option the command takes and no other', () => {
  assert.deepEqual(named(DIAGNOSE_HELP), taken(DIAGNOSE_OPTIONS));
  assert.deepEqual(named(EXPLAIN_HELP), taken(EXPLAIN_OPTIONS));
});

test("candor --help's exit codes are EXIT's, each of them, with its meaning", () => {
  const said = /^Exit codes: ([\s\S]*?)\.$/m.exec(HELP)?.[1] ?? '';
  // Each before diagnose's own: serve's 1 (a worker killed past its drain) was told only as
  // diagnose's, so a supervisor's script read serve's unclean stop as nothing it could exit with.
  const general = said.split('; diagnose also')[0];
  const codes = [...general.matchAll(/(?<![\w.])(\d+) /g)].map((m) => Number(m[1]));
  for (const code of Object.values(EXIT)) assert.ok(codes.includes(code), `${code} in "${general}"`);
  assert.match(said, /; diagnose\s+also 1 and 2/);
});

test('candor --help names each option of candor config and candor fleet, and no other', async () => {
  const { FLEET_OPTIONS } = await import('../../../src/server/cli/fleet-commands.ts');
  const said = [...new Set([...named(helpOf('config')), ...named(helpOf('fleet'))])].sort();
  assert.deepEqual(said, taken(FLEET_OPTIONS));
});
