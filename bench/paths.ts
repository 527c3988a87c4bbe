/** Where things are: the bench folder, the repository root and the Node that runs Candor. */
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = dirname(BENCH_DIR);
/** The project's pinned Node (24); the system `node` may be older. */
export const NODE_BIN = join(REPO_DIR, 'node_modules', '.bin', 'node');
export const PEERS_DIR = join(BENCH_DIR, 'peers');

/**
 * A directory nginx's workers can reach (they run as an unprivileged user): made if missing,
 * mode 755. Returns its path.
 */
export function openDir(path: string): string {
  mkdirSync(path, { recursive: true });
  chmodSync(path, 0o755);
  return path;
}

/** A fresh run directory under the system's temporary one (`prefix` names the bench), reachable by nginx. */
export function runDir(prefix: string): string {
  return openDir(mkdtempSync(join(tmpdir(), prefix)));
}
