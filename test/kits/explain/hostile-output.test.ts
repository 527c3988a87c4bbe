/**
 * What a hostile log can do to `candor explain`'s output (issue 24, item 4): a line longer than
 * MAX_LINE is skipped unread and said so; control characters from a log (terminal escape
 * sequences) reach no output escaped or not: the text report, --json, a refusal's quotes.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MAX_LINE } from '../../../src/kits/explain/line-stream.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain, lines, runExplain } from './explain-fixture.ts';

const dir = tempDir('candor-explain-hostile-');
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

/** Control characters a terminal acts on: C0 but the newline, DEL, C1 (CSI is U+009B). */
const TERMINAL_CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;
// OSC 0 (set the window title), CSI (clear the screen) in both its forms.
const EVIL = '\x1b]0;owned\x07\x1b[2J\u009b2J';

test('lines longer than MAX_LINE are skipped unread, counted and said in the report', async () => {
  const good = lines('nginx-access-timed.log');
  const long = `${good[0]} x="${'a'.repeat(MAX_LINE)}"`;
  // The last line has no end: it is still counted once, and never held whole.
  const path = write(
    'long.log',
    [...good, long, ...good, `${good[1]}${'b'.repeat(4 * MAX_LINE)}`].join('\n'),
  );
  const report = await explain([path]);
  const [file] = report.files;
  assert.deepEqual(
    [file.lines, file.parsed, file.skipped, file.tooLong],
    [2 * good.length + 2, 2 * good.length, 2, 2],
  );
  const { code, stdout } = await runExplain([path]);
  assert.equal(code, 0);
  assert.match(stdout, / 2 skipped \(2 over 64 KiB, not read\) /);
});

test("a log's terminal escape sequences reach neither the text report nor --json, escaped", async () => {
  const access = lines('nginx-access-timed.log').map((line) =>
    line.replace('ua="127.0.0.1:37695"', `ua="127.0.0.1:37695${EVIL}"`),
  );
  const path = write('evil-access.log', `${access.join('\n')}\n`);
  const text = await runExplain([path]);
  assert.equal(text.code, 0);
  assert.doesNotMatch(text.stdout, TERMINAL_CONTROLS);
  assert.ok(text.stdout.includes('127.0.0.1:37695\\x1b]0;owned\\x07\\x1b[2J\\x9b2J'), text.stdout);
  const json = await runExplain(['--json', path]);
  assert.equal(json.code, 0);
  assert.doesNotMatch(json.stdout, TERMINAL_CONTROLS);
  const report = JSON.parse(json.stdout);
  assert.ok(report.upstreams.some((u: { name: string }) => u.name === `127.0.0.1:37695${EVIL}`));
});

test("a JSON log's value holding a newline forges no line of the text report: written \\n", async () => {
  // JSON carries a newline in a string as an escape, so a Candor or Traefik line can hold one
  // where a text log's line cannot; printed as it is, it began a line of the log's choosing.
  const FORGED = 'Upstream evil: 100% OK, nothing to see';
  const candor = lines('candor.log').map((line) =>
    line.replace(/"upstream":"([^"]*)"/, `"upstream":"$1\\n\\n${FORGED}"`),
  );
  const traefik = lines('traefik.log').map((line) =>
    line.replace(/"ServiceName":"([^"]*)"/, `"ServiceName":"$1\\n${FORGED}"`),
  );
  for (const [name, text] of [
    ['evil-candor.log', candor],
    ['evil-traefik.log', traefik],
  ] as const) {
    assert.ok(
      text.some((line) => line.includes(FORGED)),
      name,
    );
    const path = write(name, `${text.join('\n')}\n`);
    const { code, stdout } = await runExplain([path]);
    assert.equal(code, 0, name);
    assert.ok(stdout.includes(`\\n${FORGED}`), `${name}: ${stdout}`);
    assert.ok(
      stdout.split('\n').every((line) => !line.startsWith(FORGED)),
      `${name}: a line of the log's own: ${stdout}`,
    );
  }
});

test("a refusal quotes a log's lines with their control characters escaped", async () => {
  const path = write('evil.log', `${Array.from({ length: 20 }, (_, i) => `line ${i} ${EVIL}`).join('\n')}\n`);
  const { code, stdout, stderr } = await runExplain([path]);
  assert.equal(code, 65);
  assert.equal(stdout, '');
  assert.match(stderr, /line 1: line 0 \\x1b\]0;owned\\x07\\x1b\[2J\\x9b2J\n/);
  assert.doesNotMatch(stderr, TERMINAL_CONTROLS);
});

test("a JSON log's U+2028/2029 break no line of the text report, and its half surrogate pair is no \\ud83d escape in --json", async () => {
  // A viewer (and JavaScript) breaks lines at U+2028 and U+2029; half a pair (an emoji cut at a
  // length) is written by JSON.stringify as `\ud83d`, which strict readers (serde_json, jq 1.7) refuse.
  const candor = lines('candor.log').map((line) =>
    line.replace(/"upstream":"([^"]*)"/, '"upstream":"$1\\u2028sep\\u2029para\\ud83dcut"'),
  );
  const path = write('separators-candor.log', `${candor.join('\n')}\n`);
  const text = await runExplain([path]);
  assert.equal(text.code, 0);
  assert.doesNotMatch(text.stdout, /[\u2028\u2029\ud800-\udfff]/);
  assert.ok(text.stdout.includes('\\u2028sep\\u2029para'), text.stdout);
  const json = await runExplain(['--json', path]);
  assert.equal(json.code, 0);
  assert.doesNotMatch(json.stdout, /\\ud[89a-f][0-9a-f]{2}/i);
  assert.doesNotMatch(json.stdout, /[\u2028\u2029\ud800-\udfff]/);
  const report = JSON.parse(json.stdout);
  assert.ok(report.upstreams.some((u: { name: string }) => u.name.endsWith('\u2028sep\u2029para\ufffdcut')));
});
