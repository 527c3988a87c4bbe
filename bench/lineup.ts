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
    await probeOnceServing(running.port, definition.group !== 'baseline');
    return { definition, running, skipped: undefined };
  } catch (err) {
    await running?.process?.stop();
    process.stderr.write(`bench: ${definition.id} skipped: ${reason(err)}\n`);
    return { definition, running: undefined, skipped: reason(err) };
  }
}

/**
 * The probe, tried again while the port refuses or resets connections: a port that accepted a
 * connection may not serve yet. Candor's start checks that its address is free with a listen of
 * its own, closed at once (src/core/net/address-probe.ts), before its workers bind: a connection
 * in that moment is accepted by the kernel and then reset (once, a bench's close-c50 start).
 */
async function probeOnceServing(port: number, isProxy: boolean): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      return await probe(port, isProxy);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (tries === 5 || (code !== 'ECONNRESET' && code !== 'ECONNREFUSED')) throw err;
      await new Promise((done) => setTimeout(done, 200));
    }
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
