#!/usr/bin/env node
// SIGUSR1 asks Candor to reopen its log files. Node reads it as "open the inspector on
// 127.0.0.1:9229" (a local code-execution door) until a listener of ours takes the signal
// over, so that is the first thing done. `--disable-sigusr1` closes the door as well, but
// Node then keeps the signal blocked, so no listener ever hears it: the workers, which get
// their reopen from the primary, run with that flag (src/server/cli/workers.ts), the primary cannot.
process.on('SIGUSR1', () => {});
// `serve`: SIGHUP (reload) and SIGUSR2 (nothing) end a process by Node's default until the
// primary takes them over, once it has read and validated its config (seconds on a loaded
// machine): a reload asked for meanwhile (systemd's ExecReload right after a start) is kept for
// the primary to make (src/server/cli/primary.ts), and SIGUSR2 does nothing then as later.
if (process.argv[2] === 'serve') {
  const early = { hangup: false, stop: () => process.off('SIGHUP', keep) };
  const keep = () => {
    early.hangup = true;
  };
  process.on('SIGHUP', keep);
  process.on('SIGUSR2', () => {});
  process[Symbol.for('candor.hangup-while-starting')] = early;
}
// Node >= 22.18: a checkout runs its TypeScript sources directly (Node's type stripping), and the
// installed package is compiled for the same Node. An older Node gets what to do instead: a
// checkout's npm scripts run the Node 24 it pins; the installed package needs a Node 24 found
// for it (nvm, the system's package, or one npx fetches for this one run).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  const { existsSync } = await import('node:fs');
  const checkout = existsSync(new URL('../src/server/cli/main.ts', import.meta.url));
  // The command it was given, quoted for a POSIX shell where it needs to be, to paste as it is.
  const quote = (arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.split("'").join("'\\''")}'`);
  const args = process.argv.slice(2).map(quote).join(' ') || '--help';
  const how = checkout
    ? [
        'This checkout pins Node 24 as a devDependency: run it through npm, which puts that Node first',
        `on PATH (after "npm ci"): npx candor ${args}   or   npm start (the demo)`,
      ]
    : [
        'Install Node 24 LTS, then run candor again:',
        '  nvm install 24 && nvm use 24       (nvm: https://github.com/nvm-sh/nvm)',
        "  or your system's Node 24 package    (https://nodejs.org/en/download)",
        "Or run it on a Node 24 that npm fetches for this run, leaving the system's Node as it is:",
        `  npx -p node@24 candor ${args}`,
      ];
  process.stderr.write(
    `candor: Node ${process.versions.node} is too old: Candor needs Node >= 22.18 (Node 24 LTS recommended).\n${how.join('\n')}\n`,
  );
  process.exit(70); // EXIT.software (src/server/cluster/exit-codes.ts)
}
// The cluster primary of `candor serve` runs without V8's compilers and GC threads (the same flags
// as PRIMARY_V8_FLAGS in src/server/cli/primary-compilers.ts, which says why). They cannot be
// set from here: Node's own start (resolving this file's path) is hot enough for an optimizing
// compile, and one compile maps the compiler's code into the process for good. So the primary
// starts itself again with them on its command line: process.execve replaces this process by
// that Node, with the same pid, arguments and environment. Not where Node cannot (Windows, IBM
// i: it throws there), nor when a parent holds an IPC channel to this process (Node took its
// descriptor out of the environment: the new one would lose it). Nothing has been done yet that
// the new one would miss.
const PRIMARY_V8_FLAGS = [
  '--no-maglev',
  '--no-turbofan',
  '--no-sparkplug',
  '--single-threaded-gc',
  '--expose-gc',
];
if (
  process.argv[2] === 'serve' &&
  typeof process.execve === 'function' &&
  process.platform !== 'win32' &&
  process.platform !== 'os400' &&
  process.channel === undefined &&
  !process.execArgv.includes(PRIMARY_V8_FLAGS[0]) &&
  process.getBuiltinModule('node:cluster').isPrimary
) {
  const args = [...PRIMARY_V8_FLAGS, ...process.execArgv, process.argv[1], ...process.argv.slice(2)];
  process.execve(process.execPath, [process.execPath, ...args], process.env);
}
// Node's compile cache keeps each module's stripped and compiled code on disk (keyed by its
// content, so an edited source is compiled afresh): a warm start loads no TypeScript
// stripper at all, which saves about 20 MB of memory in every process and most of the startup.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
// A checkout has src/ and runs it as it is. The installed package has no src/ (Node does not
// strip types under node_modules) but the JavaScript that `npm pack` compiled into dist/.
// (node:fs through process.getBuiltinModule: imported as an ES module it would load
// fs/promises, its streams and readline too, about 1 MiB of the cluster primary's memory.)
const { existsSync } = process.getBuiltinModule('node:fs');
const sources = new URL('../src/server/cli/main.ts', import.meta.url);
const entry = existsSync(sources) ? sources : new URL('../dist/server/cli/main.js', import.meta.url);
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
