/**
 * Preloaded into every test file's process (`node --test --import`). Plain JavaScript on purpose:
 * a TypeScript preload makes each of the suite's ~750 processes load Node's type stripper (and
 * compile its WebAssembly) before anything else, ~70 ms of CPU each, though every module the
 * test then imports comes stripped from the compile cache.
 *
 * 1. Node's compile cache on, in the folder `candor serve` uses (bin/candor.js). Most test files
 *    import the gateway, some eight hundred modules Node strips of their types and compiles again
 *    in each process: about a second each on this machine, under half that from the cache. The
 *    cache is keyed by each file's content, so an edited source is compiled afresh.
 * 2. Standard output, the pipe a test file's verdicts go to the runner by, made blocking. With
 *    `--test-force-exit` the process exits as soon as its last test ends, and a non-blocking pipe
 *    (Linux) loses what was still buffered: the runner then counted fewer tests than ran, a
 *    failing test's name and error among what it could drop (nodejs/node#64833). Blocking writes
 *    are all out before the exit.
 */
import module from 'node:module';

module.enableCompileCache?.();
process.stdout._handle?.setBlocking?.(true);
