/**
 * The process `loadConfigIsolated` starts: reads and validates one file, sends the plain
 * config or its problems back, and ends. Nothing here outlives the load.
 */
import { type AddressTaken, probeAddress } from '../net/address-probe.ts';
import { ConfigError } from './config-error.ts';
import { configHash } from './config-hash.ts';
import { type FieldLines, keptFieldLines } from './field-lines.ts';
import { listenerKey } from './listener-key.ts';
import { loadConfigFile } from './load.ts';
import type { GatewayConfig } from './types.ts';

/** What the parent asks: the file, and the environment its `${VAR}`s expand from. */
export interface LoadAsk {
  readonly path: string;
  readonly env: NodeJS.ProcessEnv;
  /**
   * Whether the config's listeners (and its admin listener) can be had (address-probe.ts), all
   * but these, which the running gateway holds ("host:port", the host lower-cased, as reload-plan.ts's listenerKey):
   * probed here, so that the supervising primary never loads DNS (node:net's listen looks the
   * host up, even an address), about 1 MiB of its memory. Absent: nothing is probed.
   */
  readonly probeAllBut?: readonly string[];
}

/** A listener of the config (its index in `listen`) whose address another process holds. */
export interface TakenListener {
  readonly index: number;
  readonly taken: AddressTaken;
}

export type LoadAnswer =
  /** With the config's hash (config-hash.ts): the parent need not load node:crypto to work it out. */
  /** And where the fields a reload may refuse are written (field-lines.ts). */
  | {
      readonly config: unknown;
      readonly hash: string;
      readonly lines: FieldLines;
      readonly taken: readonly TakenListener[];
      /** The admin listener's address, when another process holds it. */
      readonly adminTaken?: AddressTaken;
    }
  | { readonly problems: ConfigError['problems'] }
  | { readonly error: string };

/** Reads and validates one file into the answer sent back. */
async function answerFor({ path, env, probeAllBut }: LoadAsk): Promise<LoadAnswer> {
  try {
    const config = await loadConfigFile(path, env);
    const held = new Set(probeAllBut);
    const taken = probeAllBut === undefined ? [] : await takenListeners(config, held);
    const adminTaken = probeAllBut === undefined ? undefined : await takenAdmin(config, held);
    return {
      config,
      hash: configHash(config),
      lines: keptFieldLines(config) ?? {},
      taken,
      ...(adminTaken === undefined ? {} : { adminTaken }),
    };
  } catch (err) {
    return err instanceof ConfigError ? { problems: err.problems } : { error: String(err) };
  }
}

/** The listeners (a port of their own, not held) that another process holds, in the config's order. */
async function takenListeners(config: GatewayConfig, held: ReadonlySet<string>): Promise<TakenListener[]> {
  const found: TakenListener[] = [];
  for (const [index, listen] of config.listen.entries()) {
    if (listen.port === 0 || held.has(listenerKey(listen))) continue;
    const taken = await probeAddress(listen.host, listen.port);
    if (taken !== undefined) found.push({ index, taken });
  }
  return found;
}

/**
 * The admin listener's address, when another process holds it (and the running gateway does
 * not: its address is among the held). The primary closes its admin listener before it opens
 * the new one, so a reload that moved it to a taken address left the gateway without one.
 */
async function takenAdmin(
  config: GatewayConfig,
  held: ReadonlySet<string>,
): Promise<AddressTaken | undefined> {
  const { admin } = config;
  if (admin === undefined || admin.port === 0 || held.has(listenerKey(admin))) return undefined;
  const taken = await probeAddress(admin.host, admin.port);
  // The primary (this process's parent) holding the port on another address of it is the running
  // admin listener's (127.0.0.1:9901 moved to 0.0.0.0:9901): the primary closes that one before it
  // opens the new one, so the move is no conflict; refusing it told the operator to stop the gateway.
  if (taken?.holderPid === process.ppid && [...held].some((key) => key.endsWith(`:${admin.port}`)))
    return undefined;
  return taken;
}

// Only as the process loadConfigIsolated forks (it has an IPC channel and is this module's
// entry): imported anywhere else, this module does nothing.
if (process.send !== undefined && process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  process.once('message', async (ask: LoadAsk) => {
    const answer = await answerFor(ask);
    // The channel closes once the answer is written, and with it the process.
    process.send?.(answer, () => process.disconnect?.());
  });
}
