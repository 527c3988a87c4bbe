/**
 * Preloaded into every test file's process (`node --test --import`): its standard output, the
 * pipe its test verdicts go to the runner by, made blocking. With `--test-force-exit` the process
 * exits as soon as its last test ends, and a non-blocking pipe (Linux) loses what was still
 * buffered: the runner then counted fewer tests than ran, a failing test's name and error among
 * what it could drop (nodejs/node#64833). Blocking writes are all out before the exit.
 */
const handle = (process.stdout as unknown as { _handle?: { setBlocking?: (on: boolean) => void } })._handle;
handle?.setBlocking?.(true);
