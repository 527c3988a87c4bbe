import type { GatewayConfig } from '../../core/config/types.ts';

/**
 * The cluster primary of `candor serve` runs without V8's compilers (Maglev, Turbofan, and the
 * baseline Sparkplug), unless its config has it answer a question a request. A primary runs
 * little code, and little of it hot (a reload, a scrape, an admin call, a health probe), yet one
 * optimizing compile maps the compiler's own code into the process for good: about 2.5 MiB of
 * the node binary's pages it has no other use for, and the baseline code 0.4 MiB more
 * (docs/benchmarks.md). Its code runs in V8's interpreter instead: 200 scrapes of /metrics took
 * the primary the same CPU (0.49 s) with the baseline tier and without.
 *
 * Whoever starts `candor serve` starts the primary, and Node's own start (resolving the entry
 * file's path) is already hot enough for a compile, before any code of ours runs: bin/candor.js
 * starts the primary again with these flags on its command line (process.execve, the same pid).
 * A worker's command line is the primary's without them (workers.ts).
 *
 * And its collector works on the main thread alone (`--single-threaded-gc`): a heap of a few
 * MiB takes no time to mark, and the helper threads' own allocations (glibc gives each thread
 * its arena) cost the idle primary about 0.25 MiB of RSS (49.7–50.3 MiB with them, the issue's
 * target 50). It cannot be turned back on later, nor need it be: the primary's busiest case (a
 * gateway-wide rate limit's questions) collects small, short-lived objects.
 */
export const PRIMARY_V8_FLAGS: readonly string[] = [
  '--no-maglev',
  '--no-turbofan',
  '--no-sparkplug',
  '--single-threaded-gc',
  // Its idle trim's collector (idle-trim.ts), without node:v8, node:vm and a second context.
  '--expose-gc',
];

/** Whether the compilers are on: off when the command line turned them off (bin/candor.js). */
let optimizing = !PRIMARY_V8_FLAGS.slice(0, 3).every((flag) => process.execArgv.includes(flag));

/**
 * Called with the config in force, at start and after each reload. With a gateway-wide rate
 * limit and no `store`, every worker asks the primary's bucket once a request
 * (cluster-link.ts), and the compilers pay for themselves: 21 µs of the primary's
 * CPU a question with them, 36 without. V8 reads the flags at each compile it considers.
 */
export function compileFor(config: GatewayConfig): void {
  const optimize = config.store === undefined && config.routes.some((route) => route.rateLimit !== undefined);
  // node:v8 only to change them: what it loads is about 0.4 MiB of the primary's memory.
  if (optimize === optimizing) return;
  optimizing = optimize;
  const { setFlagsFromString } = process.getBuiltinModule('node:v8');
  setFlagsFromString(optimize ? '--sparkplug' : '--no-sparkplug');
  setFlagsFromString(optimize ? '--maglev' : '--no-maglev');
  setFlagsFromString(optimize ? '--turbofan' : '--no-turbofan');
}
