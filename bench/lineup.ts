/**
 * Starting the selected systems, each in its own folder and on its own port; a system that
 * fails to start or to pass the probe is reported as skipped, never fatal.
 */
import { join } from 'node:path';
import { openDir } from './paths.ts';
import { probe } from './probe.ts';
import type { RunningSystem, SystemDefinition } from './systems.ts';

export interface LineupEntry {
  readonly definition: SystemDefinition;
  readonly running: RunningSystem | undefined;
  /** Why the system is not measured. */
  readonly skipped: string | undefined;
}

export interface LineupContext {
  readonly dir: string;
  readonly ports: readonly number[];
  readonly originPort: number;
  readonly deadPort: number;
  readonly workers: number;
  readonly cpu: string;
}

function reason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 300);
}

async function startOne(
  definition: SystemDefinition,
  port: number,
  context: LineupContext,
): Promise<LineupEntry> {
  const dir = openDir(join(context.dir, definition.id));
  let running: RunningSystem | undefined;
  try {
    running = await definition.start({ ...context, dir, port });
    await probe(running.port, definition.group !== 'baseline');
    return { definition, running, skipped: undefined };
  } catch (err) {
    await running?.process?.stop();
    process.stderr.write(`bench: ${definition.id} skipped: ${reason(err)}\n`);
    return { definition, running: undefined, skipped: reason(err) };
  }
}

/** Starts all systems at once (each on its own port, in its own folder) and probes them. */
export function startLineup(
  definitions: readonly SystemDefinition[],
  context: LineupContext,
): Promise<LineupEntry[]> {
  return Promise.all(definitions.map((definition, i) => startOne(definition, context.ports[i], context)));
}

export async function stopLineup(entries: readonly LineupEntry[]): Promise<void> {
  await Promise.all(entries.map((entry) => entry.running?.process?.stop()));
}
