/**
 * A discovery with no `resolvers` asks the system's (/etc/resolv.conf) in turn as a listed
 * pair is asked: a first nameserver answering SERVFAIL or REFUSED sends the question to the
 * second, as glibc's resolver does; Node's hands the code back and asked the first again.
 * Real DNS servers on 127.0.0.1:53 and 127.0.0.2:53 named by the resolv.conf of a mount and
 * network namespace of the test's own (root: `unshare -mn`, as CI runs).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ownResolverSkip, withOwnResolver } from '../../helpers/own-resolver.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures/system-resolvers.ts');

test("the system's first nameserver answers SERVFAIL or REFUSED: the second is asked, its answer the set", {
  skip: ownResolverSkip(),
}, () => {
  const run = withOwnResolver(`exec "${process.execPath}" "${FIXTURE}"`, 2, ['127.0.0.1', '127.0.0.2']);
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  for (const shape of ['servfail', 'refused']) {
    assert.equal(out[shape].secondAsked, true, shape);
    assert.equal(out[shape].report.failure, null, shape);
    assert.deepEqual(
      out[shape].report.targets.map((t: { url: string }) => t.url),
      ['http://10.0.0.7:8080'],
      shape,
    );
  }
});
