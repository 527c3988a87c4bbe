/**
 * The primary lets each ejection's first return be counted (ejection-returns.ts), so that
 * `candor_target_returns_total` never passes `candor_target_ejections_total`. An ejection whose
 * target then left its upstream (a DNS answer without it, a reload) is ended by no worker: it was
 * held for good, one entry per such target (a discovered upstream's every pod that died failing),
 * and a target back at the same origin (an address given to the next pod) had two returns counted
 * for its one new ejection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { EjectionReturns } from '../../../src/server/cluster/ejection-returns.ts';

const config = (urls: string[], protocol = 'http1') =>
  parseConfig(
    `listen:\n  - address: 127.0.0.1:0\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    protocol: ${protocol}\n    targets:\n${urls.map((u) => `      - url: ${u}\n`).join('')}`,
    '<test>',
    {},
  );

test('an ejection whose target left is forgotten: nothing held for it, and its return at the same origin later counts once', () => {
  const returns = new EjectionReturns();
  const both = config(['http://10.0.0.1:80', 'http://10.0.0.2:80']);
  const one = config(['http://10.0.0.2:80']);
  for (let pod = 3; pod < 203; pod++) {
    returns.ejected('app', `http://10.0.1.${pod}:80`);
    const gone = config(['http://10.0.0.2:80', `http://10.0.1.${pod}:80`]);
    returns.reloaded(gone, one);
  }
  assert.equal(returns.size, 0, 'no ejection of the 200 targets that left is held');
  returns.ejected('app', 'http://10.0.0.1:80');
  returns.reloaded(both, one);
  returns.reloaded(one, both);
  // Back at the same origin, ejected once, ended by each of two workers: one return counted.
  returns.ejected('app', 'http://10.0.0.1:80');
  assert.equal(returns.returned('app', 'http://10.0.0.1:80'), true);
  assert.equal(returns.returned('app', 'http://10.0.0.1:80'), false);
  assert.equal(returns.size, 0);
});

test('a reload keeps the ejections of the targets it keeps, and forgets those of an upstream of another protocol', () => {
  const returns = new EjectionReturns();
  const before = config(['http://10.0.0.1:80', 'http://10.0.0.2:80']);
  returns.ejected('app', 'http://10.0.0.1:80');
  returns.ejected('app', 'http://10.0.0.1:80');
  returns.reloaded(before, config(['http://10.0.0.1:80']));
  assert.equal(returns.size, 1);
  assert.equal(returns.returned('app', 'http://10.0.0.1:80'), true);
  returns.reloaded(before, config(['http://10.0.0.1:80'], 'h2c'));
  assert.equal(returns.size, 0);
  assert.equal(returns.returned('app', 'http://10.0.0.1:80'), false);
});
