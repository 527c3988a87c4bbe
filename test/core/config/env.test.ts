// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are config text, where ${VAR} is the syntax under test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, type ConfigProblem } from '../../../src/core/config/config-error.ts';
import { interpolateEnv, requiredVariables } from '../../../src/core/config/env.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { configWarnings } from '../../../src/core/config/warnings.ts';
import { MINIMAL, problem, problemsOf, SOURCE, UPSTREAM_AND_ROUTE } from './config-fixture.ts';

test('${VAR} takes the value from the environment', () => {
  assert.deepEqual(interpolateEnv('127.0.0.1:${PORT}', { PORT: '9000' }), {
    ok: true,
    value: '127.0.0.1:9000',
    replaced: true,
    taken: [{ name: 'PORT', value: '9000' }],
  });
});

test('${VAR:-default} uses the default when the variable is unset or empty, as the shell does', () => {
  assert.equal(expanded(interpolateEnv('${PORT:-8080}', {})), '8080');
  assert.equal(expanded(interpolateEnv('${PORT:-8080}', { PORT: '' })), '8080');
  assert.equal(expanded(interpolateEnv('${PORT:-8080}', { PORT: '9000' })), '9000');
  assert.equal(expanded(interpolateEnv('${HOST:-}', {})), '');
  assert.equal(expanded(interpolateEnv('${A}-${B:-b}', { A: 'a' })), 'a-b');
});

test('a default may hold references of its own, as in the shell and Docker Compose, read only when it is used', () => {
  // It was cut at the first "}": ${A:-${B}} gave the text "${B}" as the value, without a word.
  assert.deepEqual(interpolateEnv('${A:-${B}}', { B: 'b' }), {
    ok: true,
    value: 'b',
    replaced: true,
    taken: [{ name: 'B', value: 'b' }],
  });
  assert.equal(expanded(interpolateEnv('${A:-${B:-c}}', {})), 'c');
  assert.equal(expanded(interpolateEnv('http://${A:-${B:-h}:${P:-80}}/x', { P: '81' })), 'http://h:81/x');
  // Used only when A is unset: B need not be set when A is, and a literal stays one.
  assert.equal(expanded(interpolateEnv('${A:-${B}}', { A: 'a' })), 'a');
  assert.equal(expanded(interpolateEnv('${A:-$${B}}', {})), '${B}');
  assert.deepEqual(interpolateEnv('${A:-${B}}', {}), {
    ok: false,
    message: 'environment variable B is not set (set it, or give a default with ${B:-value})',
  });
  assert.equal(interpolateEnv('${A:-${B}', {}).ok, false);
  assert.deepEqual(requiredVariables('${A:-${B}}:${C}'), ['C']);
});

test('$${ is a literal ${ and a lone $ is kept', () => {
  assert.deepEqual(interpolateEnv('$${PORT}', { PORT: '9000' }), {
    ok: true,
    value: '${PORT}',
    replaced: false,
    taken: [],
  });
  assert.equal(expanded(interpolateEnv('pa$$word $5 ${X}$', { X: 'x' })), 'pa$$word $5 x$');
});

test('a value from the environment is only ever a value, never YAML structure', () => {
  const text = `listen:
  - address: 127.0.0.1:0
routes:
  - upstream: api
    maintenance:
      message: \${MESSAGE}
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
`;
  const config = parseConfig(text, SOURCE, { MESSAGE: 'x\nlog: { level: trace }' });
  assert.equal(config.routes[0].maintenance?.message, 'x\nlog: { level: trace }');
  assert.equal(config.log.level, 'info');
});

test('an unset variable without a default, or a malformed reference, is refused', () => {
  assert.deepEqual(interpolateEnv('${PORT}', {}), {
    ok: false,
    message: 'environment variable PORT is not set (set it, or give a default with ${PORT:-value})',
  });
  // 9X is made of letters and digits: what is wrong with it is its first character.
  assert.deepEqual(interpolateEnv('${9X}', {}), {
    ok: false,
    message:
      'expected ${NAME} or ${NAME:-default} with NAME made of letters, digits and _, not starting with a digit, got "${9X}"',
  });
  assert.equal(interpolateEnv('${PORT', {}).ok, false);
});

test('an unset variable in the file is a problem naming the variable, the file, its line and field', () => {
  const text = `listen:
  - address: 127.0.0.1:\${CANDOR_PORT}
${UPSTREAM_AND_ROUTE}`;
  assert.deepEqual(problemsOf(text, {}), [
    problem(
      2,
      14,
      'listen[0].address',
      'environment variable CANDOR_PORT is not set (set it, or give a default with ${CANDOR_PORT:-value})',
    ),
  ]);
});

test('listen port, weight and booleans can all come from the environment', () => {
  const text = `listen:
  - address: 127.0.0.1:\${PORT:-8080}
routes:
  - upstream: api
    strip_prefix: \${STRIP:-false}
upstreams:
  api:
    targets:
      - url: http://\${API_HOST:-127.0.0.1}:3001
        weight: \${WEIGHT:-2}
errors:
  expose_upstream_address: \${EXPOSE}
`;
  const config = parseConfig(text, SOURCE, { PORT: '9000', STRIP: 'true', EXPOSE: 'true' });
  assert.equal(config.listen[0].port, 9000);
  assert.equal(config.routes[0].stripPrefix, true);
  assert.equal(config.upstreams.api.targets[0].weight, 2);
  assert.equal(config.upstreams.api.targets[0].hostname, '127.0.0.1');
  assert.equal(config.errors.exposeUpstreamAddress, true);
});

test('an expanded value that is not the type the field wants is reported like any other, quoted as ${NAME}', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: api
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
        weight: \${WEIGHT}
`;
  assert.deepEqual(problemsOf(text, { WEIGHT: 'heavy' }), [
    problem(9, 17, 'upstreams.api.targets[0].weight', 'expected an integer from 1 to 1000, got "${WEIGHT}"'),
  ]);
});

test('a quoted number written in the file is not coerced: the operator asked for a string', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: api
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
        weight: "2"
`;
  assert.deepEqual(problemsOf(text), [
    problem(9, 17, 'upstreams.api.targets[0].weight', 'expected an integer from 1 to 1000, got "2"'),
  ]);
});

test('a problem quotes a value the environment gave as ${NAME}, in each form it writes values', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: api
    request_headers: { set: { Authorization: "Bearer \${TOKEN}", X-Mode: "\${MODE} " } }
upstreams:
  api:
    targets:
      - url: http://reader:\${PASSWORD}@127.0.0.1:3001
`;
  // As JSON (a quote, a backslash, a control character escaped), as written (a URL), and a value
  // under 4 characters as it is: "on" is no secret, and would be replaced in any word holding it
  // (so the variable is named beside it).
  const env = { TOKEN: 'tok"en\\9f3a\x01', PASSWORD: 's3cret-pw', MODE: 'on' };
  const problems = problemsOf(text, env);
  assert.deepEqual(
    problems.map((p) => [p.path, p.message.slice(p.message.lastIndexOf('got '))]),
    [
      ['routes[0].request_headers.set.Authorization', 'got "Bearer ${TOKEN}"'],
      ['routes[0].request_headers.set.X-Mode', 'got "on " (from environment variable MODE)'],
      ['upstreams.api.targets[0].url', 'got "http://reader:${PASSWORD}@127.0.0.1:3001"'],
    ],
  );
  assert.ok(!JSON.stringify(problems).includes('9f3a'), JSON.stringify(problems));
});

test('a warning quotes a value the environment gave as ${NAME}, as a problem does', () => {
  const warnings = configWarnings(
    parseConfig(`${MINIMAL}trust_forwarded_from: ["\${EVERYONE}"]\n`, SOURCE, { EVERYONE: '0.0.0.0/0' }),
  );
  assert.ok(
    warnings.some((w) => w.startsWith('trust_forwarded_from[0]: ${EVERYONE} trusts every client')),
    warnings.join('\n'),
  );
});

function expanded(result: ReturnType<typeof interpolateEnv>): string {
  assert.ok(result.ok, 'expected interpolation to succeed');
  return result.value;
}

test('requiredVariables names each ${NAME} without a default, once; defaults and $${ are not needed', () => {
  assert.deepEqual(requiredVariables('${HOST:-0.0.0.0}:${PORT}'), ['PORT']);
  assert.deepEqual(requiredVariables('redis://:${PASS}@${HOST}:6379/${PASS}'), ['PASS', 'HOST']);
  assert.deepEqual(requiredVariables('$${LITERAL} ${EMPTY:-} plain'), []);
});

// A key is not expanded: `match.query: { ${PARAM}: "1" }` matched a parameter named "${PARAM}",
// which no client sends, and check said ok; a fixed field's key said only "unknown field".
test('${NAME} in a key is refused at the key, with any default; $${ and a lone $ in a key are text', () => {
  const KEY =
    'a key is read as written: ${NAME} is replaced in values only, never in a key; write the key itself';
  const text = MINIMAL.replace(
    '  - upstream: api\n',
    // A function: in a replacement string, $$ is one $.
    () => '  - upstream: api\n    match:\n      query: { "${PARAM}": "1", "$${lit}": "2", "a$b": "3" }\n',
  ).replace(
    '      - url: http://127.0.0.1:3001\n',
    '      - url: http://127.0.0.1:3001\n    ${T:-timeouts}: { connect: 1s }\n',
  );
  assert.deepEqual(problemsOf(text, { PARAM: 'debug', T: 'timeouts' }), [
    problem(6, 16, 'routes[0].match.query["${PARAM}"]', KEY),
    problem(11, 5, 'upstreams.api["${T:-timeouts}"]', KEY),
  ]);
});

// `targets: [{ url: ${URL} }]` was five of the YAML parser's messages ("Unexpected flow-map-start at
// node end", "Flow sequence in block collection must be sufficiently indented and end with a ]", …),
// none naming the variable: a bare ${ is YAML's { inside [ ] or { }, and only there.
test('a bare ${VAR} inside [ ] or { } is told as one problem naming it, its field and saying to quote it, the errors it caused left out', () => {
  const text = `listen: [{ address: \${ADDR}, max_connections: \${MAX:-5} }]
routes:
  - upstream: api
upstreams:
  api: { targets: [{ url: \${URL} }] }
`;
  const env = { ADDR: '127.0.0.1:8080', URL: 'http://127.0.0.1:3001' };
  assert.deepEqual(problemsOf(text, env), [
    problem(
      1,
      21,
      'listen[0].address',
      '${ADDR} inside [ ] or { } must be quoted ("${ADDR}"): bare, YAML reads its { as the start of a mapping',
    ),
    problem(
      1,
      47,
      'listen[0].max_connections',
      '${MAX:-5} inside [ ] or { } must be quoted ("${MAX:-5}"): bare, YAML reads its { as the start of a mapping',
    ),
    problem(
      5,
      27,
      'upstreams.api.targets[0].url',
      '${URL} inside [ ] or { } must be quoted ("${URL}"): bare, YAML reads its { as the start of a mapping',
    ),
  ]);
  // The value it is in is quoted whole.
  const bearer = `listen: [{ address: 127.0.0.1:8080 }]
routes:
  - upstream: api
    request_headers: { set: { Authorization: Bearer \${TOKEN} } }
upstreams:
  api: { targets: [{ url: "http://127.0.0.1:3001" }] }
`;
  assert.deepEqual(problemsOf(bearer, { TOKEN: 'abcd' }), [
    problem(
      4,
      46,
      'routes[0].request_headers.set.Authorization',
      '${TOKEN} inside [ ] or { } must be quoted ("Bearer ${TOKEN}"): bare, YAML reads its { as the start of a mapping',
    ),
  ]);
  // Its field is the one it is written in, though the parse went astray at it: past it too, and
  // for a default holding a reference of its own.
  const nested = `listen: [{ address: \${A:-\${B:-127.0.0.1:8080}} }]
routes: [{ upstream: api, max_in_flight: \${N} }]
upstreams:
  api: { targets: [{ url: "http://127.0.0.1:3001" }] }
`;
  assert.deepEqual(
    problemsOf(nested, {}).map(({ line, path }) => [line, path]),
    [
      [1, 'listen[0].address'],
      [2, 'routes[0].max_in_flight'],
    ],
  );
  // Quoted, each is read as the value it names, a number where a number is expected.
  const quoted = text.replace(/(\$\{[^}]*\})/g, '"$1"');
  const config = parseConfig(quoted, SOURCE, env);
  assert.equal(config.listen[0]?.maxConnections, 5);
  assert.equal(config.upstreams.api?.targets[0]?.url, 'http://127.0.0.1:3001');
});

// Without its secrets, a variable not set here was read as empty, and a field that cannot be
// empty failed the check: `Bearer ${API_TOKEN}` as "Bearer ", a port as "127.0.0.1:", so a CI job
// had to set dummy values. Such a field is checked with a stand-in; one no value could make
// right is still refused, naming the variable; the load's warnings and variables are told once.
test('without its secrets, a field an unset variable left wrong is checked with a stand-in; one no value makes right is refused', () => {
  const text = (url: string) => `listen:
  - address: "127.0.0.1:\${CI_PORT}"
routes:
  - match: { path: /a, methods: [POST] }
    upstream: app
    request_headers: { set: { Authorization: "Bearer \${CI_TOKEN}" } }
    timeouts: { response: "\${CI_RESPONSE}" }
    max_in_flight: \${CI_MAX}
    cache: {}
upstreams:
  app: { targets: [{ url: "${url}" }] }
`;
  const lenient = (source: string, env: NodeJS.ProcessEnv) => {
    try {
      parseConfig(source, SOURCE, env, { secrets: 'may-be-absent' });
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
      throw error;
    }
  };
  const warnings: ConfigProblem[] = [];
  const variables: string[] = [];
  const config = parseConfig(
    text('${CI_URL}'),
    SOURCE,
    {},
    { secrets: 'may-be-absent', warnings, onVariable: (name, field) => variables.push(`${name} ${field}`) },
  );
  assert.equal(config.routes.length, 1);
  // Told once each, though the text was loaded more than once to find the stand-ins.
  assert.deepEqual(variables, [
    'CI_PORT listen[0].address',
    'CI_TOKEN routes[0].request_headers.set.Authorization',
    'CI_RESPONSE routes[0].timeouts.response',
    'CI_MAX routes[0].max_in_flight',
    'CI_URL upstreams.app.targets[0].url',
  ]);
  assert.deepEqual(
    warnings.map((w) => `${w.path}: ${w.message.slice(0, 33)}`),
    ['routes[0].cache: the route matches only POST, and '],
  );
  // Set, each value is its own, checked in full: a token ending in a space is refused.
  const set = { CI_PORT: '8080', CI_URL: 'http://127.0.0.1:9', CI_RESPONSE: '5s', CI_MAX: '10' };
  assert.deepEqual(lenient(text('${CI_URL}'), set), []);
  assert.match(
    lenient(text('${CI_URL}'), { ...set, CI_TOKEN: 'abc ' }).join('\n'),
    /^routes\[0\]\.request_headers\.set\.Authorization: expected a header value without whitespace/,
  );
  // No value of CI_HOST makes "htp://…" a URL: refused, naming the variable read as empty.
  assert.deepEqual(lenient(text('htp://${CI_HOST}'), { ...set, CI_TOKEN: 'abc' }), [
    'upstreams.app.targets[0].url: expected an http:// or https:// URL, got "htp://" (scheme "htp") (environment variable CI_HOST is not set here: read as empty)',
  ]);
});
