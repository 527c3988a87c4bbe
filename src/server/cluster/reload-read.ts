/**
 * A reload's read of the file, before any worker is asked: loaded in a process of its own
 * (load-isolated.ts), then checked against the running config for what a reload cannot change
 * and for the addresses of the listeners it adds.
 */
import { ConfigError, type ConfigProblem } from '../../core/config/config-error.ts';
import { problemTemplates } from '../../core/config/env-templates.ts';
import { listenerKey } from '../../core/config/listener-key.ts';
import { LoadStopped, loadConfigAndProbe, takenProblems } from '../../core/config/load-isolated.ts';
import type { GatewayConfig } from '../../core/config/types.ts';
import { unchangeableProblems } from '../gateway/reload-plan.ts';

/**
 * The file read: the config to swap to, and how a problem found from here on quotes its values;
 * or the read given up because the drain began (`stopped`); or the file refused (`problems`).
 */
type ReloadRead =
  | { readonly next: GatewayConfig; readonly asWritten: (problem: ConfigProblem) => ConfigProblem }
  | { readonly stopped: true }
  | { readonly problems: readonly ConfigProblem[] };

/** Reads the file at `path` for a reload of the `running` config; `signal` gives the read up (the drain began). */
export async function readForReload(
  path: string,
  running: GatewayConfig,
  signal: AbortSignal,
): Promise<ReloadRead> {
  // A problem found once the file loaded (a setting a reload cannot change, an address taken, a
  // worker's refusal) quotes values as the loader's do: one the environment gave as `${NAME}`.
  // The loader's own problems come so already: until it has loaded, nothing is replaced.
  let asWritten = (problem: ConfigProblem): ConfigProblem => problem;
  try {
    // In a process of its own, with a deadline and a heap of its own: however slow or large the
    // file, this process keeps answering the admin API and signals, and its workers keep running.
    // A listener the reload adds must be free, as at start (serve.ts): that process finds
    // whether each one's address can be had, all but those the gateway holds.
    // The running admin listener's address is held too: the primary holds it.
    const admin = running.admin;
    const loaded = await loadConfigAndProbe(
      path,
      [...running.listen, ...(admin === undefined ? [] : [admin])].map(listenerKey),
      process.env,
      undefined,
      signal,
    );
    const next = loaded.config;
    const templates = problemTemplates([...(running.fromEnvironment ?? []), ...(next.fromEnvironment ?? [])]);
    asWritten = (problem) => ({ ...problem, message: templates(problem.message) });
    const problems = unchangeableProblems(running, next);
    if (problems.length > 0) throw new ConfigError(problems);
    const taken = takenProblems(loaded);
    if (taken.length > 0) throw new ConfigError(taken);
    return { next, asWritten };
  } catch (err) {
    if (err instanceof LoadStopped) return { stopped: true };
    // The process reading the file ended without an answer (the OOM killer, a fork refused):
    // refused as a read past its deadline is. Thrown, a SIGHUP's reload vanished without a
    // line (the serial queue holds its rejection), and the admin API's was a 500.
    const problems =
      err instanceof ConfigError
        ? err.problems.map(asWritten)
        : [{ file: path, line: 0, column: 0, path: '', message: (err as Error).message }];
    return { problems };
  }
}
