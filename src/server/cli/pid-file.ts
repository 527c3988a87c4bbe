/**
 * `candor serve --pid-file PATH`: the primary's pid, the one to signal (not npm's, when it runs
 * under `npx`), written when it starts and removed when it exits.
 */

// node:fs through process.getBuiltinModule, not an import: imported as an ES module it loads
// fs/promises, its streams and readline as well, about 1 MiB of the primary's memory
// (test/server/cli/lean-processes.test.ts).
const { readFileSync, renameSync, unlinkSync, writeFileSync } = process.getBuiltinModule('node:fs');

export interface PidFile {
  /** Removes the file if it still holds this process's pid (a newer instance's is left alone). */
  remove(): void;
}

/** Writes `pid\n` to `path` whole (a reader never sees half a number); throws what fs throws. */
export function writePidFile(path: string, pid: number = process.pid): PidFile {
  const temporary = `${path}.${pid}.tmp`;
  try {
    writeFileSync(temporary, `${pid}\n`, { mode: 0o644 });
    renameSync(temporary, path);
  } catch (err) {
    // Made but not written (a full disk makes the file, then refuses its bytes): not left behind.
    try {
      unlinkSync(temporary);
    } catch {}
    throw err;
  }
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    try {
      if (readFileSync(path, 'utf8').trim() === String(pid)) unlinkSync(path);
    } catch {
      // Already gone, or unreadable now: nothing of ours to remove.
    }
  };
  // Whatever way the process ends (a crash included), the file does not outlive it.
  process.once('exit', remove);
  return { remove };
}
