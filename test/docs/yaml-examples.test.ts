/**
 * Every ```yaml block of README.md and docs/ is a config `candor check` accepts, with no warning.
 * Most are fragments, a section of a config beside the text that explains it: each is completed
 * with only what it leaves out (a listener; a route when it has none; when it has no
 * `upstreams`, one for each name its routes use, if any) and checked as the loader checks a file, secrets aside (the
 * blocks name files on the reader's machine, /etc/candor/admin-token). A fragment says so on its
 * first line, naming the sections it leaves out (`# fragment (a whole config also has: listen,
 * upstreams)`): a reader who writes a block to a file and runs `candor check` on it is told why
 * it is refused before they run it. A block that is not a Candor config (Prometheus rules) says
 * so in an HTML comment on the line before it: `<!-- not a candor config: … -->`. The complete
 * example has a test of its own.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { ConfigError, type ConfigProblem } from '../../src/core/config/config-error.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { configWarnings } from '../../src/core/config/warnings.ts';

const ROOT = join(import.meta.dirname, '../..');
const NOT_CONFIG = /^<!-- not a candor config: .+ -->$/;

interface Block {
  /** docs/canary.md:13, the line of its opening fence. */
  readonly where: string;
  readonly text: string;
  /** The line before the fence says the block is not a Candor config. */
  readonly notConfig: boolean;
}

function yamlBlocks(): Block[] {
  const pages = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .sort()
      .map((name) => `docs/${name}`),
  ];
  const blocks: Block[] = [];
  for (const page of pages) {
    const lines = readFileSync(join(ROOT, page), 'utf8').split('\n');
    for (let index = 0; index < lines.length; index++) {
      if (lines[index].trim() !== '```yaml') continue;
      const end = lines.findIndex((line, at) => at > index && line.trim() === '```');
      assert.notEqual(end, -1, `${page}:${index + 1}: a yaml block that never ends`);
      blocks.push({
        where: `${page}:${index + 1}`,
        text: lines.slice(index + 1, end).join('\n'),
        notConfig: NOT_CONFIG.test(lines[index - 1]?.trim() ?? ''),
      });
      index = end;
    }
  }
  return blocks;
}

type Mapping = Record<string, unknown>;
const isMapping = (value: unknown): value is Mapping =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Every upstream name a route of the document sends to: its upstream, its split's, its canary's, its auth hop's. */
function upstreamsNamed(routes: unknown): string[] {
  if (!Array.isArray(routes)) return [];
  return routes
    .filter(isMapping)
    .flatMap((route) => [
      ...(typeof route.upstream === 'string' ? [route.upstream] : []),
      ...(Array.isArray(route.split)
        ? route.split
            .filter(isMapping)
            .flatMap((side) => (typeof side.upstream === 'string' ? [side.upstream] : []))
        : []),
      ...(isMapping(route.canary) && typeof route.canary.upstream === 'string'
        ? [route.canary.upstream]
        : []),
    ]);
}

/** The fragment made a whole config with only what it leaves out, and the sections it added. */
function completed(fragment: Mapping): { config: Mapping; added: string[] } {
  const config: Mapping = { ...fragment };
  config.listen ??= [{ address: '127.0.0.1:0' }];
  const upstreams: Mapping = isMapping(config.upstreams) ? { ...config.upstreams } : {};
  config.routes ??= [{ match: { path: '/' }, upstream: Object.keys(upstreams)[0] ?? 'app' }];
  // A fragment that shows upstreams shows the ones its routes use: a name it lacks is its error.
  if (!isMapping(fragment.upstreams))
    for (const name of upstreamsNamed(config.routes))
      upstreams[name] ??= { targets: [{ url: 'http://127.0.0.1:9' }] };
  // A gateway whose routes all answer themselves (redirects, static files) has none.
  if (Object.keys(upstreams).length > 0 || isMapping(fragment.upstreams)) config.upstreams = upstreams;
  const added = ['listen', 'routes', 'upstreams'].filter(
    (section) => fragment[section] === undefined && config[section] !== undefined,
  );
  return { config, added };
}

const FRAGMENT = /^# fragment \(a whole config also has: ([a-z, ]+)\)/;

const blocks = yamlBlocks();

test('the docs have yaml blocks, and each that is not a config says so', () => {
  assert.ok(blocks.length >= 8, `found ${blocks.length} yaml blocks`);
  for (const block of blocks.filter((b) => !b.notConfig)) {
    const document = parse(block.text);
    assert.ok(isMapping(document), `${block.where}: a mapping`);
  }
});

for (const block of blocks) {
  if (block.notConfig || block.text.startsWith("# Every field of Candor's config")) continue;
  test(`${block.where}: candor check accepts it (completed where it is a fragment), with no warning`, () => {
    const { config: whole, added } = completed(parse(block.text) as Mapping);
    // Written to a file as it is, a block that leaves a section out is refused: it says so first.
    const said = FRAGMENT.exec(block.text)?.[1].split(', ') ?? [];
    assert.deepEqual(
      said,
      added,
      added.length === 0
        ? `${block.where}: a whole config, yet it starts "# fragment (…)"`
        : `${block.where}: a fragment, whose first line must be "# fragment (a whole config also has: ${added.join(', ')})"`,
    );
    const text = stringify(whole);
    const warnings: ConfigProblem[] = [];
    try {
      const config = parseConfig(text, `<${block.where}>`, {}, { secrets: 'may-be-absent', warnings });
      assert.deepEqual([...warnings.map((w) => `${w.path}: ${w.message}`), ...configWarnings(config)], []);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      assert.fail(
        `${block.where} is refused:\n${err.problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}\nas checked:\n${text}`,
      );
    }
  });
}
