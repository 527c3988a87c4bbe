/**
 * `candor check` warns of a listener's proxy_protocol.from entry that overlaps
 * trust_forwarded_from: a PROXY header naming no client (LOCAL, UNKNOWN) leaves the balancer as
 * the client, and a trusted one's connections have their X-Forwarded-For believed, whoever wrote
 * it (test/proxy/accept/proxy-protocol-trust.test.ts shows it on real sockets).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { configWarnings } from '../../../src/core/config/warnings.ts';
import { SOURCE, UPSTREAM_AND_ROUTE } from './config-fixture.ts';

const text = (from: string, trust: string) => `listen:
  - address: 127.0.0.1:8080
  - address: 127.0.0.1:8443
    proxy_protocol: { from: [${from}] }
trust_forwarded_from: [${trust}]
${UPSTREAM_AND_ROUTE}`;

const warned = (from: string, trust: string) => configWarnings(parseConfig(text(from, trust), SOURCE, {}));

const message = (entry: string, trusted: string) =>
  `listen[1].proxy_protocol.from[0]: ${entry} is in trust_forwarded_from too (${trusted}): a connection whose PROXY header names no client (v2 LOCAL, v1 UNKNOWN, a v2 UNSPEC or UNIX family) has the balancer itself as its client, and its X-Forwarded-For and Forwarded are then believed, so a client the balancer relays that way (UNKNOWN) writes the address that allow/deny, rate_limit and hash_key judge it by and the upstream reads; list in trust_forwarded_from only the proxies whose own headers are meant, by their exact addresses`;

test('a from entry inside, around or equal to a trusted block is warned of, naming the trusted entry', () => {
  assert.deepEqual(warned('10.0.0.0/8', '192.168.0.0/16, 10.1.2.3'), [message('10.0.0.0/8', '10.1.2.3')]);
  assert.deepEqual(warned('10.0.0.5', '10.0.0.0/8'), [message('10.0.0.5', '10.0.0.0/8')]);
  assert.deepEqual(warned('"fd00::/8"', '"fd00::1"'), [message('fd00::/8', 'fd00::1')]);
  // An IPv4-mapped block is matched as its IPv4, as the lists match it.
  assert.deepEqual(warned('"::ffff:10.0.0.0/104"', '10.0.0.1'), [message('::ffff:10.0.0.0/104', '10.0.0.1')]);
});

test('lists that share no address say nothing', () => {
  assert.deepEqual(warned('10.0.0.0/8', '192.168.0.0/16, "fd00::1"'), []);
  assert.deepEqual(warned('10.0.0.5', '10.0.0.6'), []);
});

test('the warning carries the file, line and column of the from entry', () => {
  const warnings: ConfigProblem[] = [];
  parseConfig(text('10.0.0.0/8', '10.0.0.9'), SOURCE, {}, { warnings });
  assert.deepEqual(
    warnings.map(({ file, line, column, path }) => ({ file, line, column, path })),
    [{ file: SOURCE, line: 4, column: 30, path: 'listen[1].proxy_protocol.from[0]' }],
  );
});
