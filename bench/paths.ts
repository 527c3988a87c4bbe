/** Where things are: the bench folder, the repository root and the Node that runs Candor. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = dirname(BENCH_DIR);
/** The project's pinned Node (24); the system `node` may be older. */
export const NODE_BIN = join(REPO_DIR, 'node_modules', '.bin', 'node');
export const PEERS_DIR = join(BENCH_DIR, 'peers');
