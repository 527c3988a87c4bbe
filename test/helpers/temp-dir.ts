import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A test's own folder in the system's temporary folder (mkdtemp: `PREFIX` and six characters),
 * removed when the test file's process exits, whether its tests passed, failed or ran past their
 * timeout: each test file runs in its own process, and `--test-force-exit` ends it through
 * `process.exit`, so 'exit' comes. Made by hand in each test, with a removal in a `finally` or
 * none at all, the suite left some eight thousand folders in /tmp over its runs.
 *
 * A folder handed to a child process (`candor serve`) is removed at the same time, the child
 * killed by then (serve-process.ts kills the ones still running at exit; a test that spawns its
 * own stops it in its test); the removal retries a folder a child still dying writes in. A test
 * may still remove its folder sooner itself.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // Listened for at the first folder, not when this module loads: after serve-process.ts's own
  // exit listener (its module loads before any test makes a folder), so a child still running is
  // killed before its folder goes.
  if (made.size === 0) process.on('exit', removeAll);
  made.add(dir);
  return dir;
}

const made = new Set<string>();

function removeAll(): void {
  for (const dir of made) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Left (a file system gone read-only under it): an exit listener that threw would turn a
      // passing test file into a failing one.
    }
  }
}
