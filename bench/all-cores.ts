/**
 * The all-cores section, after the one-core scenarios: one worker per core for Candor
 * (`--workers`), nginx (`worker_processes`) and HAProxy (`nbthread`), the proxies allowed on
 * every CPU, so that "all cores against all cores" sits next to "one core against one core".
 * wrk and the origin keep their CPU: the load generator then competes with the proxy for it,
 * so the numbers are below what the machine could do and only the ratios count. The Node peers
 * are single-process servers and are left out.
 */
import type { BenchOptions } from './options.ts';
import { SCENARIOS, type Scenario } from './scenarios.ts';
import type { SystemDefinition } from './systems.ts';

/** The systems of the section, among those selected with --only. */
export const ALL_CORES_SYSTEMS: readonly string[] = ['direct', 'candor', 'nginx', 'haproxy'];
/** The scenarios of the section, among those selected with --scenarios: the cheap, CPU-bound ones. */
export const ALL_CORES_SCENARIOS: readonly string[] = ['small-c50', 'small-c200'];

export interface AllCoresPlan {
  readonly definitions: readonly SystemDefinition[];
  readonly scenarios: readonly Scenario[];
}

/** What the section measures given the options and the selected systems, or why nothing. */
export function planAllCores(
  options: BenchOptions,
  selected: readonly SystemDefinition[],
): AllCoresPlan | { readonly skipped: string } {
  if (!options.allCores)
    return {
      skipped: options.quick ? 'left out by --quick (add --all-cores)' : 'skipped with --no-all-cores',
    };
  const definitions = selected.filter((s) => ALL_CORES_SYSTEMS.includes(s.id));
  const scenarios = SCENARIOS.filter(
    (s) => ALL_CORES_SCENARIOS.includes(s.id) && options.scenarios.includes(s.id),
  );
  if (!definitions.some((s) => s.group !== 'baseline'))
    return {
      skipped: `none of ${ALL_CORES_SYSTEMS.filter((id) => id !== 'direct').join(', ')} among --only`,
    };
  if (scenarios.length === 0)
    return { skipped: `none of ${ALL_CORES_SCENARIOS.join(', ')} among --scenarios` };
  return { definitions, scenarios };
}
