/**
 * routes[].static in the config: a route with static files and no upstream is valid; beside an
 * upstream, a split or a redirect it is refused, and so is what shapes a forwarded request; its
 * root must be a directory; its fields are typed.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { problemsOf, SOURCE, withRoutes } from './config-fixture.ts';

const dir = tempDir('candor-static-config-');
writeFileSync(join(dir, 'file.txt'), 'x');
after(() => rmSync(dir, { recursive: true, force: true }));

test('a route with static and no upstream is valid, its defaults filled in and its root made absolute', () => {
  const config = parseConfig(
    withRoutes(`  - match: { path: /assets }
    static: { root: ${dir} }
  - match: { path: /app }
    static:
      root: .
      index: start.html
      fallback: /start.html
      precompressed: [zstd, br, gzip]
      cache_control: "public, max-age=31536000, immutable"
  - upstream: api
`),
    SOURCE,
  );
  const [assets, app] = config.routes;
  assert.equal(assets.upstream, undefined);
  assert.deepEqual(assets.static, { root: dir, index: 'index.html', precompressed: [] });
  assert.deepEqual(app.static, {
    root: join(SOURCE, '..'),
    index: 'start.html',
    fallback: '/start.html',
    precompressed: ['zstd', 'br', 'gzip'],
    cacheControl: 'public, max-age=31536000, immutable',
  });
});

test('static beside an upstream, a split or a redirect, or with what shapes a forwarded request, is refused', () => {
  const problems = problemsOf(
    withRoutes(`  - match: { path: /a }
    upstream: api
    static: { root: ${dir} }
  - match: { path: /b }
    redirect: { scheme: https }
    static: { root: ${dir} }
  - match: { path: /c }
    static: { root: ${dir} }
    strip_prefix: true
    compression: {}
    cache: {}
`),
  ).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    'routes[0].upstream: a route serves static files or has upstream, not both',
    'routes[1].redirect: a route serves static files or has redirect, not both',
    'routes[2].strip_prefix: a route that serves static files forwards nothing: strip_prefix has nothing to apply to',
    'routes[2].compression: a route that serves static files forwards nothing: compression has nothing to apply to',
    'routes[2].cache: a route that serves static files forwards nothing: cache has nothing to apply to',
  ]);
});

test('a static root that is no directory, an index with a slash, a fallback not under root and an unknown coding are refused', () => {
  const problems = problemsOf(
    withRoutes(`  - match: { path: /a }
    static: { root: ${join(dir, 'file.txt')} }
  - match: { path: /b }
    static: { root: ${join(dir, 'none')} }
  - match: { path: /c }
    static: { root: ${dir}, index: ../x.html, fallback: index.html, precompressed: [deflate] }
  - match: { path: /d }
    static: { root: ${dir}, fallback: /../index.html }
`),
  ).map((p) => p.path);
  assert.deepEqual(problems.sort(), [
    'routes[0].static.root',
    'routes[1].static.root',
    'routes[2].static.fallback',
    'routes[2].static.index',
    'routes[2].static.precompressed[0]',
    'routes[3].static.fallback',
  ]);
});

// Told as every other file the config names is (`upstreams.*.tls.ca: cannot read …: no such
// file`), not by its errno code: `"/srv/site" cannot be read (ENOENT)`.
test('a static root that is not there says so in words', () => {
  const missing = join(dir, 'none');
  const problems = problemsOf(
    withRoutes(`  - match: { path: /b }
    static: { root: ${missing} }
`),
  ).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    `routes[0].static.root: ${JSON.stringify(missing)} cannot be read: no such file`,
  ]);
});

test('an index that is a dot-segment or a dotfile is refused: it would name the directory above, or a file a path may not', () => {
  const problems = problemsOf(
    withRoutes(`  - match: { path: /a }
    static: { root: ${dir}, index: .. }
  - match: { path: /b }
    static: { root: ${dir}, index: . }
  - match: { path: /c }
    static: { root: ${dir}, index: .htpasswd }
  - match: { path: /d }
    static: { root: ${dir}, index: home.html }
`),
  ).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    'routes[0].static.index: expected a file name that is no dot-segment or dotfile, got ".."',
    'routes[1].static.index: expected a file name that is no dot-segment or dotfile, got "."',
    'routes[2].static.index: expected a file name that is no dot-segment or dotfile, got ".htpasswd"',
  ]);
});

test('a fallback the route could never open is refused: read as a request path is, an encoded dot-segment, dotfile, slash or NUL, a bad escape, a name past 255 bytes, or a directory', () => {
  const refused = [
    '/%2e%2e/index.html',
    '/%2ehidden.html',
    '/app%2Findex.html',
    '/app%5Cindex.html',
    '/index%00.html',
    '/100%.html',
    `/${'a'.repeat(251)}.html`,
    '/app/',
    '/',
  ];
  const served = [
    '/index.html',
    '/app/index.html',
    '/caf%C3%A9.html',
    '/a b.html',
    `/${'a'.repeat(250)}.html`,
  ];
  const routes = [...refused, ...served]
    .map(
      (fallback, i) => `  - match: { path: /r${i} }\n    static: { root: ${dir}, fallback: '${fallback}' }\n`,
    )
    .join('');
  const problems = problemsOf(withRoutes(routes));
  assert.deepEqual(
    problems.map((p) => p.path),
    refused.map((_, i) => `routes[${i}].static.fallback`),
  );
  assert.equal(
    problems[0].message,
    `expected a file (no trailing /) under root like /index.html, its names percent-decoded as a request's are: no dot-segment or dotfile, no slash, backslash or NUL, none past 255 bytes; got "/%2e%2e/index.html"`,
  );
});

test('a cache_control whose lifetime is no number of seconds is refused: every cache reads `max-age=30d` as no lifetime, and the files as stale', () => {
  const refused = [
    'public, max-age=30d',
    'max-age=1h',
    'public, s-maxage=10m',
    'max-age=-1',
    'max-age=',
    'max-age',
    'max-age=60, stale-while-revalidate=1m',
    'no-cache;max-age=0',
    '  ',
    ' public',
    'public, max-age=60 ',
    'no-cache="Set-Cookie, max-age=60',
  ];
  const taken = [
    'public, max-age=31536000, immutable',
    'no-cache',
    'max-age="60"',
    'public,max-age=0,must-revalidate',
    'private, max-age=600, stale-while-revalidate=30, stale-if-error=86400',
    'no-store',
    'public,, max-age=60',
    'private="Set-Cookie, X-Id", max-age=60',
  ];
  const routes = [...refused, ...taken]
    .map(
      (value, i) => `  - match: { path: /r${i} }\n    static: { root: ${dir}, cache_control: '${value}' }\n`,
    )
    .join('');
  const problems = problemsOf(withRoutes(routes)).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(
    problems,
    refused.map(
      (value, i) =>
        `routes[${i}].static.cache_control: expected a Cache-Control value like "public, max-age=3600" (its lifetimes in seconds: max-age=2592000, not 30d), got ${JSON.stringify(value)}`,
    ),
  );
});
