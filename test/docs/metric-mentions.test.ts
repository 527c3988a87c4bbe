/**
 * Every metric the docs' prose, queries and alert rules name is one the gateway exposes, with
 * labels it has: the metrics reference is held to the catalog elsewhere (readme-reference), but a
 * name written in a paragraph (`candor_ejections_total`, which never existed) sent a reader to
 * alert on a series that is never there.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METRICS } from '../../src/observe/metrics/catalog.ts';
import { DOCS_TEXT } from '../helpers/docs-text.ts';

const CATALOG = new Map<string, readonly string[]>(
  Object.values(METRICS).map((spec) => [spec.name as string, spec.labels as readonly string[]]),
);

/** A histogram's series are its name with `_bucket`, `_sum` or `_count` (and `le` a label). */
function metricOf(series: string): string | undefined {
  if (CATALOG.has(series)) return series;
  const base = series.replace(/_(bucket|sum|count)$/, '');
  return Object.values(METRICS).some((spec) => spec.name === base && spec.type === 'histogram')
    ? base
    : undefined;
}

test('every metric name the docs mention is in the catalog; a `prefix_*` names at least one', () => {
  const unknown = new Set<string>();
  for (const [, name, star] of DOCS_TEXT.matchAll(
    /\b((?:candor|http_server|http_client)_[a-z0-9_]*[a-z0-9])(_\*)?/g,
  )) {
    if (star !== undefined) {
      if (![...CATALOG.keys()].some((known) => known.startsWith(`${name}_`))) unknown.add(`${name}_*`);
    } else if (metricOf(name) === undefined) unknown.add(name);
  }
  assert.deepEqual([...unknown], [], 'metric names in README.md or docs/ that the gateway does not expose');
});

test('every label the docs put on a metric (`name{label="…"}`, `name{label}`) is one of its labels', () => {
  const wrong: string[] = [];
  for (const [, series, inside] of DOCS_TEXT.matchAll(
    /\b((?:candor|http_server|http_client)_[a-z0-9_]+)\{([^}]*)\}/g,
  )) {
    const metric = metricOf(series);
    if (metric === undefined) {
      wrong.push(`${series}: no such metric`);
      continue;
    }
    const labels = [...(CATALOG.get(metric) ?? []), ...(series === metric ? [] : ['le'])];
    for (const part of inside.split(',')) {
      const label = /^\s*([a-z_]+)/.exec(part)?.[1];
      if (label !== undefined && !labels.includes(label)) wrong.push(`${series}{${label}}`);
    }
  }
  assert.deepEqual(wrong, []);
});
