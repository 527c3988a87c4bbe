/**
 * A plugin's own metrics (`context.metrics.count` and `observe`) called wrong, as a plugin's bug
 * calls them: a count by a negative number, a string, NaN; a label that is no string; a label
 * taken from each request. The exposition stays true Prometheus text: no counter goes down, no
 * value that is no number, no two series of the same labels, and at most PLUGIN_SERIES series a
 * plugin (the rest under `_overflow`). Each wrong call is dropped and said once, never thrown at
 * the plugin (a count is no reason to fail a request). An in-process gateway, a real scrape.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PLUGIN_SERIES } from '../../../src/observe/metrics/metrics.ts';
import type { Plugin, PluginMetrics } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startPluginGateway } from '../../helpers/plugin-gateway.ts';
import { samples } from './scrape.ts';

test("a plugin's wrong metric calls are dropped and said; a label per request is bounded", async () => {
  let requests = 0;
  const plugin: Plugin = (_options, context) => ({
    onRequest() {
      requests++;
      // As a plugin in JavaScript can call it: the types say nothing at run time.
      const metrics = context.metrics as unknown as Record<keyof PluginMetrics, (...args: unknown[]) => void>;
      metrics.count('down', '', -5);
      metrics.count('text', '', '2');
      metrics.count('nan', '', Number.NaN);
      metrics.count('object', { toString: () => 'same' });
      metrics.observe('nan', Number.NaN);
      metrics.observe('text', '0.5');
      metrics.count('ok', 'a', 2);
      metrics.observe('ok', 0.25, 'a');
      for (let i = 0; i < 600; i++) metrics.count('host', `h${requests}-${i}`);
    },
  });
  const { app, gw } = await startPluginGateway('p', plugin);
  try {
    for (let i = 0; i < 2; i++) assert.equal((await request(`http://127.0.0.1:${gw.port}`)).status, 200);
    const { text } = await gw.gateway.metrics.exposition();
    const all = samples(text).filter((s) => s.labels.plugin === 'p');
    const series = all.map((s) => `${s.name}${JSON.stringify(s.labels)}`);
    assert.equal(new Set(series).size, series.length, 'no two series of the same labels');
    const events = all.filter((s) => s.name === 'candor_plugin_events_total');
    assert.deepEqual(
      events
        .filter((s) => s.labels.name !== 'host')
        .map((s) => `${s.labels.name} ${s.labels.label} ${s.value}`),
      ['ok a 4', `_overflow _overflow ${2 * 600 - (PLUGIN_SERIES - 1)}`],
    );
    assert.equal(events.filter((s) => s.labels.name === 'host').length, PLUGIN_SERIES - 1);
    assert.deepEqual(
      all
        .filter((s) => s.name === 'candor_plugin_observed_count')
        .map((s) => `${s.labels.name} ${s.labels.label} ${s.value}`),
      ['ok a 2'],
    );
    assert.equal(all.find((s) => s.name === 'candor_plugin_observed_sum')?.value, 0.5);
    const told = gw.logs.filter((l) => String(l.msg).startsWith('a plugin metric'));
    assert.deepEqual(
      told.map((l) => `${l.metric}: ${l.problem}`),
      [
        'down: count by -5: a count goes up by a finite number',
        'text: count by string: a count goes up by a finite number',
        'nan: count by NaN: a count goes up by a finite number',
        'object: its name and label must be strings',
        `_overflow: past ${PLUGIN_SERIES} names and labels (host): a label must come from a bounded set`,
      ],
    );
  } finally {
    await gw.close();
    await app.close();
  }
});
