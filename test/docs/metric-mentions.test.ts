/**
 * Every metric the docs' prose, queries and alert rules name is one the gateway exposes, with
 * labels it has: the metrics reference is held to the catalog elsewhere (readme-reference), but a
 * name written in a paragraph (`candor_ejections_total`, which never existed) sent a reader to
 * alert on a series that is never there.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAILURES } from '../../src/core/failure/taxonomy.ts';
import { RETRY_SKIPS } from '../../src/core/retry/reasons.ts';
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

test('the bound on label values counts the failure types, retry-skip codes and buckets the gateway has', () => {
  // An SRE sizes Prometheus by it: a taxonomy that grew past the count written left the bound a lie.
  const types = Object.keys(FAILURES).length;
  const bound = /the taxonomy \((\d+) failure types, (\d+) retry-skip codes\)/.exec(DOCS_TEXT);
  assert.ok(bound, 'the docs say how many failure types and retry-skip codes label values take');
  assert.deepEqual([Number(bound[1]), Number(bound[2])], [types, Object.keys(RETRY_SKIPS).length]);
  const series = /× (\d+) error types \(the (\d+), or empty\)/.exec(DOCS_TEXT);
  assert.ok(series, "the docs bound candor_responses_total's series");
  assert.deepEqual([Number(series[1]), Number(series[2])], [types + 1, types]);
  const buckets = /the histograms have (\d+) buckets each/.exec(DOCS_TEXT);
  const histograms = Object.values(METRICS).filter((spec) => spec.type === 'histogram');
  assert.deepEqual(
    histograms.map((spec) => spec.buckets?.length),
    histograms.map(() => Number(buckets?.[1])),
  );
});
