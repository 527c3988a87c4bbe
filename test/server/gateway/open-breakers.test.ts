/**
 * What the cluster primary tells a worker it forks later (a restart after a crash) of the circuits
 * open and the targets ejected (open-breakers.ts): each for the time it has left, and nothing a
 * worker's own rebuild would have forgotten at a reload (createUpstream): a circuit whose
 * upstream is gone, changed its protocol or kept none of its targets; an ejection whose target
 * is no longer named; an ejection a worker already ended.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { OpenBreakers } from '../../../src/server/cluster/open-breakers.ts';

const config = (upstreams: string) =>
  parseConfig(
    `listen:\n  - address: 127.0.0.1:0\nroutes:\n  - upstream: app\nupstreams:\n${upstreams}`,
    '<test>',
    {},
  );
const app = (urls: string[], protocol = 'http1') =>
  `  app:\n    protocol: ${protocol}\n    targets:\n${urls.map((u) => `      - url: ${u}\n`).join('')}`;

test('open circuits and ejections are told with the time they have left, a passed one with none (half-open until a worker ends it); a closed circuit or a return are not', () => {
  const breakers = new OpenBreakers();
  breakers.heard({ candor: 'circuit-opened', upstream: 'app', forMs: 5000 }, 1000);
  breakers.heard(
    { candor: 'ejected', upstream: 'app', origin: 'http://a:80', forMs: 3000, ejections: 2 },
    1000,
  );
  breakers.heard(
    { candor: 'ejected', upstream: 'app', origin: 'http://b:80', forMs: 3000, ejections: 1 },
    1000,
  );
  assert.deepEqual(breakers.now(2000), [
    { candor: 'circuit-opened', upstream: 'app', forMs: 4000 },
    { candor: 'ejected', upstream: 'app', origin: 'http://a:80', forMs: 2000, ejections: 2 },
    { candor: 'ejected', upstream: 'app', origin: 'http://b:80', forMs: 2000, ejections: 1 },
  ]);
  breakers.returned('app', 'http://b:80');
  assert.deepEqual(breakers.now(3000), [
    { candor: 'circuit-opened', upstream: 'app', forMs: 3000 },
    { candor: 'ejected', upstream: 'app', origin: 'http://a:80', forMs: 1000, ejections: 2 },
  ]);
  // a's time ran out with no return told: half-open in the workers, so told with 0 ms left.
  const aHalfOpen = { candor: 'ejected', upstream: 'app', origin: 'http://a:80', forMs: 0, ejections: 2 };
  assert.deepEqual(breakers.now(4500), [
    { candor: 'circuit-opened', upstream: 'app', forMs: 1500 },
    aHalfOpen,
  ]);
  breakers.heard({ candor: 'circuit-closed', upstream: 'app' }, 4600);
  assert.deepEqual(breakers.now(4700), [aHalfOpen]);
  breakers.returned('app', 'http://a:80');
  assert.deepEqual(breakers.now(4800), []);
  // A circuit whose open time ran out with no close told is half-open too.
  breakers.heard({ candor: 'circuit-opened', upstream: 'app', forMs: 100 }, 5000);
  assert.deepEqual(breakers.now(6000), [{ candor: 'circuit-opened', upstream: 'app', forMs: 0 }]);
});

test('a reload forgets what the workers rebuild afresh, and keeps what they keep', () => {
  const open = () => {
    const breakers = new OpenBreakers();
    breakers.heard({ candor: 'circuit-opened', upstream: 'app', forMs: 60_000 }, 0);
    breakers.heard(
      { candor: 'ejected', upstream: 'app', origin: 'http://a:80', forMs: 60_000, ejections: 1 },
      0,
    );
    return breakers;
  };
  const before = config(app(['http://a', 'http://b']));
  const told = (breakers: OpenBreakers) => breakers.now(0).map((n) => n.candor);

  // A target kept (http://a and http://a:80 are one): the circuit and the ejection stay.
  const kept = open();
  kept.reloaded(before, config(app(['http://a:80', 'http://c'])));
  assert.deepEqual(told(kept), ['circuit-opened', 'ejected']);
  // The ejected target dropped, another kept: the circuit stays, the ejection goes.
  const dropped = open();
  dropped.reloaded(before, config(app(['http://b'])));
  assert.deepEqual(told(dropped), ['circuit-opened']);
  // Every target replaced: a closed circuit, as in the workers.
  const replaced = open();
  replaced.reloaded(before, config(app(['http://c'])));
  assert.deepEqual(told(replaced), []);
  // Another protocol: every target afresh.
  const protocol = open();
  protocol.reloaded(before, config(app(['http://a', 'http://b'], 'h2c')));
  assert.deepEqual(told(protocol), []);
  // The upstream gone (the route moved to another).
  const gone = open();
  gone.reloaded(
    before,
    parseConfig(
      'listen:\n  - address: 127.0.0.1:0\nroutes:\n  - upstream: other\nupstreams:\n  other:\n    targets:\n      - url: http://a\n',
      '<test>',
      {},
    ),
  );
  assert.deepEqual(told(gone), []);
});
