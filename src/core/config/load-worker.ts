/**
 * The thread `loadConfigIsolated` starts: reads and validates one file, posts the plain
 * config or its problems back, and ends. Nothing here outlives the load.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError } from './config-error.ts';
import { loadConfigFile } from './load.ts';

export type LoadAnswer =
  | { readonly config: unknown }
  | { readonly problems: ConfigError['problems'] }
  | { readonly error: string };

const { path, env } = workerData as { path: string; env: NodeJS.ProcessEnv };
let answer: LoadAnswer;
try {
  answer = { config: await loadConfigFile(path, env) };
} catch (err) {
  answer = err instanceof ConfigError ? { problems: err.problems } : { error: String(err) };
}
parentPort?.postMessage(answer);
