/**
 * HAProxy's stderr (health lines with no time of their own) mixed with its access lines in a
 * custom log-format, as `haproxy -f cfg 2>&1 | tee log` leaves them (issue 32, item 7): the
 * health story is told in order without a timeline, a backend left with no server is a
 * failure whatever the access lines say, and without --haproxy-conf the health lines are still
 * read while the access lines are quoted with the flag that would read them.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';
import { fixture, runExplain } from './explain-fixture.ts';

const CONF = fixture('haproxy-log-format.cfg');

const access = (n: number) =>
  `127.0.0.1:5040${n} [22/Nov/2026:19:22:4${n} +0000] fe_main be_app/app1 200 141 ---- Tw=0 Tc=0 Tr=5 Ta=5 TR=0 rc=0 "GET /app/items?n=${n} HTTP/1.1" ua="curl/8"`;

/** The log the issue quotes: be_nolive's server goes DOWN, the backend has none left; every request answered 200. */
function mixedLog(): string {
  const lines = [
    access(0),
    '[WARNING]  (6361) : Server be_nolive/s1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.',
    "[ALERT]    (6361) : backend 'be_nolive' has no server available!",
    // The log target's untagged copy of the same two changes: counted once.
    'Server be_nolive/s1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.',
    'backend be_nolive has no server available!',
    ...[1, 2, 3, 4, 5, 6, 7, 8].map(access),
  ];
  const dir = tempDir('candor-health-');
  const path = join(dir, 'haproxy.log');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

test('with --haproxy-conf: the access lines are read, and the health lines are told in order; no server left is a failure', async () => {
  const { code, stdout, stderr } = await runExplain(['--haproxy-conf', CONF, mixedLog()]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^candor explain: 9 requests/);
  assert.doesNotMatch(stdout, /^Failures\n {2}none$/m, 'a backend with no server is not "none"');
  assert.match(stdout, /^ {2}backend left with no server \(health lines\) +1 +be_nolive \(1\)$/m);
  const health = stdout.slice(stdout.indexOf('Health ('));
  assert.match(health, /^Health \(the proxy's own lines: 2 changes\)$/m);
  const down = health.search(
    /^ {2}be_nolive\/s1 +DOWN +1 +no time +Layer4 connection problem \(Connection refused\)$/m,
  );
  const none = health.search(/^ {2}be_nolive +no server +1 +no time/m);
  assert.ok(down !== -1 && none !== -1 && down < none, `DOWN, then no server:\n${health}`);
  assert.match(stdout, /^ {2}be_nolive had no server left/m);
});

test('without it: not refused; the health story, the unread access lines quoted, and the flag that reads them', async () => {
  const { code, stdout, stderr } = await runExplain([mixedLog()]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /haproxy-health +13 lines +4 parsed +9 skipped +2 records/);
  assert.match(stdout, /^ {2}backend left with no server \(health lines\) +1 +be_nolive \(1\)$/m);
  assert.match(stdout, /^ {2}be_nolive\/s1 +DOWN +1 +no time/m);
  assert.match(
    stdout,
    /9 lines not read; if they are HAProxy's access lines in a log-format of their own, give HAProxy's config with --haproxy-conf FILE/,
  );
  assert.match(
    stdout,
    /^ {6}line 1: 127\.0\.0\.1:50400 \[22\/Nov\/2026:19:22:40 \+0000\] fe_main be_app\/app1 200/m,
  );
  assert.match(stdout, /^ {6}line 6: /m);
});

test('a file with no health line among lines no format reads is still refused (exit 65)', async () => {
  const dir = tempDir('candor-health-');
  const path = join(dir, 'other.log');
  writeFileSync(path, `${[1, 2, 3].map(access).join('\n')}\n`);
  const { code, stderr } = await runExplain([path]);
  assert.equal(code, 65);
  assert.match(stderr, /not a log format explain reads/);
});
