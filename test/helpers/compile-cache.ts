/**
 * Preloaded into every test file's process (`node --test --import`): Node's compile cache on,
 * in the folder `candor serve` uses (bin/candor.js). Most test files import the gateway, some
 * five hundred modules Node strips of their types and compiles again in each of the suite's
 * ~700 processes: a second each on this machine, under half that from the cache. The cache is
 * keyed by each file's content, so an edited source is compiled afresh.
 */
import module from 'node:module';

module.enableCompileCache?.();
