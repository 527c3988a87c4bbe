/**
 * `candor check`'s shadow warnings at a hosting provider's scale: one route per customer domain
 * (`s17.example.com`, path `/`) and a few hundred paths every host shares (`/.well-known/…`,
 * `/healthz`), each of which every customer's `/` takes from (docs/configuration.md,
 * `routes[].match`: "A route that a route for a host takes requests from although its own path
 * prefix is longer … gets a warning"). The warnings stay true (each names the first routes tried
 * before it and how many more there are) and bounded (a few routes each, not every domain: 300
 * lines of 3,000 routes each were 70 MB, and the loader spent minutes on them, past the 10 s a
 * reload waits for its config). The test's timeout is the bound: nothing here is timed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { SOURCE } from './config-fixture.ts';

const DOMAINS = 3000;
const SHARED = 300;

function hostingConfig(): string {
  const lines = ['listen:', '  - address: 127.0.0.1:8080', 'routes:'];
  for (let i = 0; i < DOMAINS; i++)
    lines.push(`  - name: site${i}`, `    match: { host: s${i}.example.com }`, '    upstream: app');
  for (let j = 0; j < SHARED; j++)
    lines.push(`  - name: shared${j}`, `    match: { path: /shared${j} }`, '    upstream: app');
  lines.push('upstreams:', '  app:', '    targets: [{ url: http://127.0.0.1:3001 }]', '');
  return lines.join('\n');
}

test('thousands of domains beside hundreds of shared paths: one bounded, true warning per shared path', {
  timeout: 120_000,
}, () => {
  const warnings: ConfigProblem[] = [];
  const config = parseConfig(hostingConfig(), SOURCE, {}, { warnings });
  assert.equal(config.routes.length, DOMAINS + SHARED);
  assert.equal(warnings.length, SHARED);
  const first = warnings[0];
  assert.equal(first?.path, `routes[${DOMAINS}].match`);
  assert.equal(
    first?.message,
    `routes[0] (s0.example.com/) and routes[1] (s1.example.com/) and routes[2] (s2.example.com/) and routes[3] (s3.example.com/) and routes[4] (s4.example.com/) and ${DOMAINS - 5} more routes are tried first (an exact host before a wildcard or any host, whatever the path), so this route gets none of the requests that also meet their conditions`,
  );
  for (const warning of warnings) assert.ok(warning.message.length < 1000, warning.message.slice(0, 200));
});
