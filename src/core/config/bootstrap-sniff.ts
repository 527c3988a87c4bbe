/**
 * Whether a file is a fleet's bootstrap file (it names a `source:`), as `serve`, `check` and the
 * admin commands tell one from a config before reading it as either. A file that cannot be read
 * is left to the reader that follows to say so. Through `getBuiltinModule`: node:fs imported as
 * an ES module would load fs/promises into the primary with it (lean-processes.test.ts).
 */
export function isBootstrapFile(file: string): boolean {
  try {
    return /^source\s*:/m.test(
      process
        .getBuiltinModule('node:fs')
        .readFileSync(file, 'utf8')
        .slice(0, 64 * 1024),
    );
  } catch {
    return false;
  }
}
