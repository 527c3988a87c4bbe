// biome-ignore-all lint/suspicious/noTemplateCurlyInString: a pattern of `${NAME}` is config text, where it is not expanded.
/**
 * `include:` fuzzed: a main file including, in any order and number, what goes wrong with an
 * include (a cycle, itself, a file missing, a folder, a file of 0 bytes or of comments, a glob
 * matching nothing, one matching the main file, a file not UTF-8, one of bad YAML, a pattern that
 * is no text) beside files that are fine. Each comes to a config or to problems naming the file
 * (the main one or the included one), a line within it and a field (fuzz-kit.ts). Then the worst
 * inputs found, each a case of its own.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { tempDir } from '../../helpers/temp-dir.ts';
import { assertConfigOrTold, assertWellTold, outcomeOf, runs, SEED } from './fuzz-kit.ts';

const dir = tempDir('candor-fuzz-includes-');
after(() => rmSync(dir, { recursive: true, force: true }));
const MAIN = join(dir, 'candor.yaml');

const route = (name: string) =>
  `routes:\n  - name: ${name}\n    match: { path: /${name} }\n    upstream: ${name}\nupstreams:\n  ${name}: { targets: [{ url: "http://127.0.0.1:3001" }] }\n`;
const FILES: Readonly<Record<string, string | Buffer>> = {
  'good.yaml': route('good'),
  'good-crlf.yaml': `\ufeff${route('crlf').replaceAll('\n', '\r\n')}`,
  'empty.yaml': '',
  'comments.yaml': '# nothing here yet\n',
  'cycle.yaml': `include: [candor.yaml]\n${route('cycle')}`,
  'self.yaml': 'include: [self.yaml]\nroutes: []\n',
  'chain.yaml': 'include: [cycle.yaml]\nroutes: []\n',
  'bad-yaml.yaml': 'routes:\n  - name: [unclosed\n    upstream: x\n',
  'singleton.yaml': 'listen: [{ address: "127.0.0.1:1" }]\nroutes: []\n',
  'twice.yaml': route('good'),
  'not-utf8.yaml': Buffer.concat([Buffer.from('routes:\n  - name: caf'), Buffer.of(0xe9), Buffer.from('\n')]),
  'wrong-shape.yaml': 'routes: { name: x }\nupstreams: [a, b]\n',
  'conf.d/a.yaml': route('a'),
  'conf.d/b.yaml': route('b'),
};
for (const [name, text] of Object.entries(FILES)) {
  mkdirSync(join(dir, name, '..'), { recursive: true });
  writeFileSync(join(dir, name), text);
}
mkdirSync(join(dir, 'a-folder.yaml'));
mkdirSync(join(dir, 'empty-folder'));

/** Patterns as YAML writes them: the files above, and what is no file or no pattern at all. */
const PATTERN = fc.constantFrom(
  ...Object.keys(FILES).map((name) => JSON.stringify(name)),
  '"missing.yaml"',
  '"a-folder.yaml"',
  '"empty-folder/*.yaml"',
  '"nothing-*.yaml"',
  '"*.yaml"',
  '"conf.d/*.yaml"',
  '"conf.d/**"',
  '"./candor.yaml"',
  '"../"',
  '"/dev/null"',
  '"/dev/zero"',
  '""',
  '5',
  'null',
  '{ a: 1 }',
  '[x]',
  '"${NOT_EXPANDED}"',
);

const mainWith = (include: string) => `listen: [{ address: "127.0.0.1:0" }]
include: ${include}
${route('main')}`;

test('any include list comes to a config or to problems at a file, line and field', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.array(PATTERN, { maxLength: 5 }).map((patterns) => `[${patterns.join(', ')}]`),
        fc
          .array(PATTERN, { minLength: 1, maxLength: 4 })
          .map((patterns) => `\n${patterns.map((p) => `  - ${p}`).join('\n')}`),
        fc.constantFrom('', '~', '"good.yaml"', '5', '{ a: b }'),
      ),
      async (include) => {
        writeFileSync(MAIN, mainWith(include));
        assertConfigOrTold(await outcomeOf(MAIN, {}), MAIN);
      },
    ),
    { seed: SEED, numRuns: runs(300) },
  );
});

// A glob from the root (`/**/*.yaml`, `../../**`) walked the whole disk before it said what it
// matched: seconds on a bare container, minutes on a server with its data mounted, a reload
// holding the primary all that while. The walk stops past 10,000 files and folders, and says so.
test('a glob that would look through the whole disk is refused at its place, the walk stopped', async () => {
  writeFileSync(MAIN, mainWith('["good.yaml", "/**/*.no-such-extension"]'));
  const outcome = await outcomeOf(MAIN, {});
  assert.ok('problems' in outcome);
  assertWellTold(outcome.problems, MAIN);
  assert.deepEqual(
    outcome.problems.map(({ line, column, path, message }) => ({ line, column, path, message })),
    [
      {
        line: 2,
        column: 24,
        path: 'include[1]',
        message:
          '"/**/*.no-such-extension" looks through more than 10000 files and folders (a glob from / or too far up?): name the folder the files are in, as conf.d/*.yaml',
      },
    ],
  );
});
