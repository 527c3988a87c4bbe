/**
 * `npm test`: every `test/**\/*.test.ts` under `node --test`, several files to a process.
 *
 * Most test files start a gateway in their own process, and a process spends some 0.25 s of CPU
 * loading the gateway's ~820 modules before its first test: a quarter of the suite's CPU, paid
 * once a file. Here the files of one folder that run in-process share a process, up to
 * FILES_A_PROCESS of them, the modules loaded once. Each is imported inside a `describe` named
 * for it, so its top-level hooks (`before`, `after`, `beforeEach`…) belong to its own tests and
 * run around them, as in a process of its own, and a failure names the file.
 *
 * A file runs in a process of its own (imported by a one-line file that keeps the plan's order)
 * when it starts processes (its time is theirs, and grouped it would only wait in line) or
 * changes what the whole process shares (its environment, working folder, fetch's dispatcher,
 * mocked timers, its handlers of an uncaught error): `ownProcess` says which.
 *
 * Each test is bounded by `--test-timeout` as before, and the whole run by RUN_BOUND_MS.
 * `node test/suite.ts FILE…` runs only those files (the same grouping).
 */
import { spawn } from 'node:child_process';
import { globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');

/** Every test file, which `npm test` runs (from the repository's root). */
export const TEST_FILES = 'test/**/*.test.ts';

/** The flags every test process runs under (test/docs/test-cleanup.sockets.test.ts runs a file with them). */
export const NODE_TEST_FLAGS: readonly string[] = [
  `--import=${join(ROOT, 'test/helpers/preload.mjs')}`,
  '--test-concurrency=6',
  '--test-timeout=60000',
  '--test-force-exit',
];

/** In-process files of one folder sharing a process: more would put long files in series. */
const FILES_A_PROCESS = 6;

/** The whole run's bound: CI's is 90 minutes, and a run that long has hung somewhere. */
const RUN_BOUND_MS = 40 * 60_000;

/** What makes a file run alone: a process it starts, or state of the process it changes. */
const OWN_PROCESS: readonly RegExp[] = [
  /from 'node:child_process'/,
  /helpers\/(serve-process|redis-server|etcd-server|pebble|knot|chromium|package-tools|packed-consumers)\.ts'/,
  /process\.env(\.[A-Za-z_]+|\[[^\]]+\]) *=[^=]|delete process\.env/,
  /process\.(chdir|umask)\(|setGlobalDispatcher|mock\.timers|process\.on\('(uncaughtException|unhandledRejection)'/,
];

export function ownProcess(text: string): boolean {
  return OWN_PROCESS.some((pattern) => pattern.test(text));
}

/**
 * The files in the order they run: the processes of one file spread evenly among the groups, so
 * that files that mostly wait on what they started run beside groups that keep the CPU busy. The
 * former in reverse order of their paths: test/server/'s fleet, certificate and canary files,
 * the longest of all, start in the first third rather than last.
 */
export function plan(files: readonly string[], read: (file: string) => string): string[][] {
  const alone: string[][] = [];
  const grouped: string[][] = [];
  let group: string[] = [];
  for (const file of [...files].sort()) {
    if (ownProcess(read(file))) {
      alone.push([file]);
      continue;
    }
    if (group.length === FILES_A_PROCESS || (group.length > 0 && dirname(group[0]) !== dirname(file))) {
      grouped.push(group);
      group = [];
    }
    group.push(file);
  }
  if (group.length > 0) grouped.push(group);
  alone.reverse();
  const runs: string[][] = [];
  let [a, g] = [0, 0];
  while (a < alone.length || g < grouped.length) {
    const aloneBehind = a < alone.length && (g === grouped.length || a / alone.length <= g / grouped.length);
    runs.push(aloneBehind ? alone[a++] : grouped[g++]);
  }
  return runs;
}

/**
 * What a process runs: a file alone is imported as it is; a group's files each inside a suite of
 * its own name.
 */
function runSource(files: readonly string[]): string {
  const url = (file: string) => JSON.stringify(pathToFileURL(resolve(ROOT, file)).href);
  if (files.length === 1) return `import ${url(files[0])};\n`;
  const suites = files.map(
    (file) => `describe(${JSON.stringify(file)}, async () => {\n  await import(${url(file)});\n});\n`,
  );
  return `import { describe } from 'node:test';\n${suites.join('')}`;
}

function main(): void {
  const asked = process.argv.slice(2);
  const files = (asked.length > 0 ? asked : globSync(TEST_FILES, { cwd: ROOT })).map((file) =>
    relative(ROOT, resolve(file)),
  );
  const dir = mkdtempSync(join(tmpdir(), 'candor-suite-'));
  // node:test sorts the files it is given by name: numbered, they run in the plan's order.
  const runs = plan(files, (file) => readFileSync(resolve(ROOT, file), 'utf8')).map((group, i) => {
    const what =
      group.length === 1
        ? group[0].replaceAll('/', '__')
        : `${dirname(group[0]).replaceAll('/', '__')}+${group.length}`;
    const name = join(dir, `${String(i).padStart(4, '0')}-${what}.test.mjs`);
    writeFileSync(name, runSource(group));
    return name;
  });
  // A process group of its own: the bound and a signal reach the runner's test processes too,
  // not the runner alone (its children would be left running).
  const child = spawn(process.execPath, ['--test', ...NODE_TEST_FLAGS, ...runs], {
    cwd: ROOT,
    stdio: 'inherit',
    detached: true,
  });
  const signalAll = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const bound = setTimeout(() => {
    process.stderr.write(`npm test: still running after ${RUN_BOUND_MS / 60_000} minutes, stopped\n`);
    signalAll('SIGKILL');
  }, RUN_BOUND_MS);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => signalAll(signal));
  child.on('exit', (code) => {
    clearTimeout(bound);
    rmSync(dir, { recursive: true, force: true });
    process.exitCode = code ?? 1;
  });
}

if (process.argv[1] === import.meta.filename) main();
