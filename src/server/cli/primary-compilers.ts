import { setFlagsFromString } from 'node:v8';
import type { GatewayConfig } from '../../core/config/types.ts';

/**
 * V8's optimizing compilers (Maglev, Turbofan) in the cluster primary of `candor serve`: off,
 * unless its config has it answer a question a request. A primary runs little code, and little
 * of it hot (a reload, a scrape, an admin call, a health probe), yet an optimizing compile maps
 * the compiler's own code into the process: megabytes of the node binary's pages it has no
 * other use for (6 MiB of the primary's RSS, bench/memory.ts). Its code runs in V8's
 * interpreter and baseline tier instead.
 *
 * Whoever starts `candor serve` starts the primary, so its flags cannot be given on its command
 * line (a worker's are: workers.ts). bin/candor.js turns the compilers off first thing, before
 * any module is loaded (loading the first ones is hot enough for a compile); V8 reads the flags
 * at each compile it considers, and the workers' command line (process.execArgv) is untouched.
 */

/**
 * The config in force, at start and after each reload. With a gateway-wide rate limit and no
 * `store`, every worker asks the primary's bucket once a request (cluster-link.ts), and the
 * optimizing compilers pay for themselves: 21 µs of the primary's CPU a question with them,
 * 36 without.
 */
export function compileFor(config: GatewayConfig): void {
  const optimize = config.store === undefined && config.routes.some((route) => route.rateLimit !== undefined);
  setFlagsFromString(optimize ? '--turbofan' : '--no-turbofan');
  setFlagsFromString(optimize ? '--maglev' : '--no-maglev');
}
