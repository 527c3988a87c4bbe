// Preloaded with --import: appends "PID URL" for every module this process (and any process
// started with the same flags) resolves, to the file named by CANDOR_TEST_IMPORTS; and, when
// the process exits, "PID builtin:NAME" for every module of Node's own it loaded by then,
// however it was loaded (an import, process.getBuiltinModule, or another of Node's modules).
// (node:fs and node:module through process.getBuiltinModule: imported as ES modules, node:fs
// would load fs/promises and readline into every process it records, hiding whether Candor does.)
const { appendFileSync } = process.getBuiltinModule('node:fs');
const { registerHooks } = process.getBuiltinModule('node:module');

const file = process.env.CANDOR_TEST_IMPORTS;
if (file !== undefined) {
  registerHooks({
    resolve(specifier, context, next) {
      const resolved = next(specifier, context);
      appendFileSync(file, `${process.pid} ${resolved.url}\n`);
      return resolved;
    },
  });
  process.once('exit', () => {
    const builtins = process.moduleLoadList.filter((entry) => entry.startsWith('NativeModule '));
    appendFileSync(file, builtins.map((entry) => `${process.pid} builtin:${entry.slice(13)}\n`).join(''));
  });
}
