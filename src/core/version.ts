// node:fs through process.getBuiltinModule, not an import: imported as an ES module it loads
// fs/promises, its streams and readline as well, about 1 MiB of the primary's memory
// (test/server/cli/lean-processes.test.ts).
const { readFileSync } = process.getBuiltinModule('node:fs');

/** The package's version, read from the package.json beside the sources (in a checkout and under node_modules alike). */
export const VERSION: string = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
).version;
