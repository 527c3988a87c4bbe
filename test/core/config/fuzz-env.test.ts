// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are config text, where ${VAR} is the syntax under test.
/**
 * `${VAR}`, `${VAR:-default}`, `$${escaped}` and an unclosed `${`, fuzzed, with environment values
 * of every kind (newlines, quotes, YAML's signs, a `${` of their own): a value the environment
 * gives is put in as text, once (never expanded again), and never changes the YAML's structure
 * (a newline and "- url:" is no second target). The outcome is the value the template makes,
 * exactly, or problems at the templated fields only, told as fuzz-kit.ts says.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { tempDir } from '../../helpers/temp-dir.ts';
import { assertWellTold, outcomeOf, runs, SEED } from './fuzz-kit.ts';

const dir = tempDir('candor-fuzz-env-');
after(() => rmSync(dir, { recursive: true, force: true }));
const MAIN = join(dir, 'candor.yaml');

/** Text with no `$`, `{` or `}`: a template's literal part, read as it is. */
const LITERAL = fc.string({ maxLength: 6 }).map((text) => text.replace(/[${}\\"]/g, '_'));
/** Values the environment may hold: anything, and the ones that would break a text substitution. */
const ENV_VALUE = fc.oneof(
  fc.string({ maxLength: 12, unit: 'binary' }),
  fc.constantFrom(
    '\n- url: http://127.0.0.1:1\n',
    '"\n  evil: 1',
    "'",
    '${OTHER}',
    '${V}',
    '$${x}',
    '${',
    '}',
    'a: b',
    '{ a: 1 }',
    '[x, y]',
    '&x',
    '*x',
    '!!binary eA==',
    '\r\n',
    ' # comment',
    '---',
    '',
  ),
);

/** One part of a template: what it is written as, and what it reads as (undefined: a problem). */
type Part = (env: NodeJS.ProcessEnv) => { written: string; reads: string | undefined };
const PART: fc.Arbitrary<Part> = fc.oneof(
  LITERAL.map((text) => () => ({ written: text, reads: text })),
  fc.constantFrom('V', 'W', 'UNSET').map((name) => (env: NodeJS.ProcessEnv) => ({
    written: `\${${name}}`,
    reads: env[name],
  })),
  fc
    .tuple(fc.constantFrom('V', 'W', 'UNSET'), LITERAL)
    .map(([name, fallback]) => (env: NodeJS.ProcessEnv) => ({
      written: `\${${name}:-${fallback}}`,
      reads: env[name] === undefined || env[name] === '' ? fallback : env[name],
    })),
  LITERAL.map((text) => () => ({ written: `$\${${text}}`, reads: `\${${text}}` })),
  LITERAL.map((text) => () => ({ written: `\${${text}`, reads: undefined })),
);

/** A template of parts, with what it reads as in `env` (undefined: it must be refused). */
function template(
  parts: readonly Part[],
  env: NodeJS.ProcessEnv,
): { written: string; reads: string | undefined } {
  const made = parts.map((part) => part(env));
  const written = made.map((part) => part.written).join('');
  // An unclosed `${` takes the rest of the value into it: any `}` after it may close it, so the
  // model says only "refused or read otherwise" from there on.
  if (made.some((part) => part.reads === undefined)) return { written, reads: undefined };
  return { written, reads: made.map((part) => part.reads).join('') };
}

const HEADER = 'routes[0].request_headers.set.X-Fuzz';
const TARGET = 'upstreams.api.targets[0].url';
const NAME = 'routes[0].name';

/** The config, each template written as YAML writes text (JSON is YAML) or bare. */
const configOf = (header: string, target: string, name: string) => `listen:
  - address: 127.0.0.1:8080
routes:
  - name: ${name}
    upstream: api
    request_headers:
      set: { X-Fuzz: ${JSON.stringify(header)} }
upstreams:
  api:
    targets:
      - url: ${JSON.stringify(`http://127.0.0.1:3001/${target}`)}
`;

test('a template reads as its parts, the environment only ever giving text, or is refused at its field', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(PART, { maxLength: 4 }),
      // A target's URL takes no path: a template there is mostly refused, so it is there one run in four.
      fc.oneof(
        { weight: 3, arbitrary: fc.constant([]) },
        { weight: 1, arbitrary: fc.array(PART, { maxLength: 2 }) },
      ),
      fc.array(PART, { maxLength: 3 }),
      // OTHER is set: a value of "${OTHER}" expanded again would read "again".
      fc
        .record({ V: ENV_VALUE, W: ENV_VALUE }, { requiredKeys: [] })
        .map((env) => ({ ...env, OTHER: 'again' })),
      fc.boolean(),
      async (headerParts, targetParts, nameParts, env, lenient) => {
        const header = template(headerParts, env);
        const target = template(targetParts, env);
        // A name must be a plain scalar here: `${...}` written bare is YAML's flow-mapping "{" inside
        // one, so its words are quoted only when they would not be one word of a route's name.
        const name = template(nameParts, env);
        writeFileSync(MAIN, configOf(header.written, target.written, JSON.stringify(`r-${name.written}`)));
        const outcome = await outcomeOf(MAIN, env, { secrets: lenient ? 'may-be-absent' : 'required' });
        if ('config' in outcome) {
          const { routes, upstreams } = outcome.config;
          assert.equal(routes.length, 1);
          assert.equal(upstreams.api.targets.length, 1, 'the environment added a target');
          // A header value's `{request_id}` is a placeholder of its own (routing-values.ts): compared where it has none.
          if (header.reads !== undefined && !lenient && !/[{}]/.test(header.reads))
            assert.equal(routes[0].requestHeaders?.set[0].value.join(''), header.reads);
          if (name.reads !== undefined && !lenient) assert.equal(routes[0].name, `r-${name.reads}`);
          return;
        }
        assertWellTold(outcome.problems, MAIN);
        // Only the fields the templates are in may be wrong (and the route's, which its name is).
        for (const problem of outcome.problems)
          assert.ok(
            [HEADER, TARGET, NAME].includes(problem.path) ||
              problem.path.startsWith('upstreams.api.targets[0]'),
            `a problem outside the templated fields: ${JSON.stringify(problem)}`,
          );
      },
    ),
    { seed: SEED, numRuns: runs(120) },
  );
});
