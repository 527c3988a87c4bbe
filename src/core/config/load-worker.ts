/**
 * The process `loadConfigIsolated` starts: reads and validates one file, sends the plain
 * config or its problems back, and ends. Nothing here outlives the load.
 */
import { ConfigError } from './config-error.ts';
import { configHash } from './config-hash.ts';
import { loadConfigFile } from './load.ts';

/** What the parent asks: the file, and the environment its `${VAR}`s expand from. */
export interface LoadAsk {
  readonly path: string;
  readonly env: NodeJS.ProcessEnv;
}

export type LoadAnswer =
  /** With the config's hash (config-hash.ts): the parent need not load node:crypto to work it out. */
  | { readonly config: unknown; readonly hash: string }
  | { readonly problems: ConfigError['problems'] }
  | { readonly error: string };

/** Reads and validates one file into the answer sent back. */
async function answerFor(path: string, env: NodeJS.ProcessEnv): Promise<LoadAnswer> {
  try {
    const config = await loadConfigFile(path, env);
    return { config, hash: configHash(config) };
  } catch (err) {
    return err instanceof ConfigError ? { problems: err.problems } : { error: String(err) };
  }
}

// Only as the process loadConfigIsolated forks (it has an IPC channel and is this module's
// entry): imported anywhere else, this module does nothing.
if (process.send !== undefined && process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  process.once('message', async ({ path, env }: LoadAsk) => {
    const answer = await answerFor(path, env);
    // The channel closes once the answer is written, and with it the process.
    process.send?.(answer, () => process.disconnect?.());
  });
}
