/**
 * Where the fields a reload may refuse are written, kept beside a loaded config so that a
 * refusal made after the load (a setting a live socket cannot change, an address taken:
 * reload-plan.ts, cluster-control.ts) names file, line and field as the loader's own problems
 * do. The primary that makes these refusals never holds the YAML, so the process that read the
 * file sends them back with the config (load-worker.ts).
 */
import { formatPath } from './config-path.ts';
import type { PathSegment } from './schema.ts';
import type { GatewayConfig } from './types.ts';
import type { Position } from './yaml-source.ts';

/**
 * Where a field's key is written: its line and column, and its file when that is not the main
 * one (a plugin an included file defines: includes.ts).
 */
export type WrittenAt = Position & { readonly file?: string };

/** A field ("listen[0].tls") → where its key is written. */
export type FieldLines = Readonly<Record<string, WrittenAt>>;

/**
 * The sections a reload may refuse a change in, or a start refuse after the load (a plugin's
 * factory, the ACME store), walked this deep: only these, so that a config of many routes costs
 * the primary nothing for them. `name` too: it is the spans' service name unless
 * `tracing.service_name` is written, and a reload refuses a rename then (reload-plan.ts).
 */
const SECTIONS = [
  'name',
  'listen',
  'admin',
  'limits',
  'metrics',
  'tracing',
  'log',
  'plugins',
  'acme',
] as const;
const DEPTH = 3;

/** Each config's field lines, as configHash keeps its hash (a config is frozen: its fields cannot move). */
const kept = new WeakMap<GatewayConfig, FieldLines>();

/** The field lines of the sections reload-plan.ts judges, from the file's plain value and its locator. */
export function fieldLinesOf(
  value: unknown,
  locate: (path: readonly PathSegment[], prefer: 'key') => WrittenAt,
): FieldLines {
  const lines: Record<string, WrittenAt> = {};
  const walk = (at: unknown, path: PathSegment[]) => {
    lines[formatPath(path)] = locate(path, 'key');
    if (path.length >= DEPTH || at === null || typeof at !== 'object') return;
    for (const [key, inner] of Object.entries(at))
      walk(inner, [...path, Array.isArray(at) ? Number(key) : key]);
  };
  if (value !== null && typeof value === 'object')
    for (const section of SECTIONS)
      if (section in value) walk((value as Record<string, unknown>)[section], [section]);
  return lines;
}

/** Keeps `lines` for `config` (and for one made from it, such as a worker's share of its limits). */
export function keepFieldLines(config: GatewayConfig, lines: FieldLines | undefined): void {
  if (lines !== undefined) kept.set(config, lines);
}

export function keptFieldLines(config: GatewayConfig): FieldLines | undefined {
  return kept.get(config);
}

/**
 * Where `field` is written in the file `config` came from (or the included file that writes it):
 * the field's key, else the closest enclosing field's (a field the new file leaves out), else
 * nowhere (line 0: the file).
 */
export function fieldPosition(config: GatewayConfig, field: string): WrittenAt {
  const lines = kept.get(config);
  let at = field;
  while (lines !== undefined) {
    const found = lines[at];
    if (found !== undefined) return found;
    const parent = at.replace(/(\.[^.[]*|\[\d+\])$/, '');
    if (parent === at || parent === '') break;
    at = parent;
  }
  return { line: 0, column: 0 };
}
