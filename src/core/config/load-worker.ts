/**
 * The thread `loadConfigIsolated` starts: reads and validates one file, posts the plain
 * config or its problems back, and ends. Nothing here outlives the load.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ConfigError } from './config-error.ts';
import { loadConfigFile } from './load.ts';

export type LoadAnswer =
  | { readonly config: unknown }
  | { readonly problems: ConfigError['problems'] }
  | { readonly error: string };

/** Reads and validates one file into the answer the thread posts back. */
async function answerFor(path: string, env: NodeJS.ProcessEnv): Promise<LoadAnswer> {
  try {
    return { config: await loadConfigFile(path, env) };
  } catch (err) {
    return err instanceof ConfigError ? { problems: err.problems } : { error: String(err) };
  }
}

// Only as the thread loadConfigIsolated starts: imported anywhere else, this module does nothing.
if (!isMainThread && parentPort !== null) {
  const { path, env } = workerData as { path: string; env: NodeJS.ProcessEnv };
  parentPort.postMessage(await answerFor(path, env));
}
