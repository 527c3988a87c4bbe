/**
 * The README's examples of the cloud and other proxies' formats (Traefik, Caddy, ALB, Google
 * Cloud) are what explain prints on their fixtures, line for line ("…" stands for lines left out).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { DOCS_TEXT } from '../../helpers/docs-text.ts';
import { explain } from './explain-fixture.ts';

const ROOT = join(import.meta.dirname, '../../..');
const readme = DOCS_TEXT;
const section = readme.slice(
  readme.indexOf('## candor explain'),
  readme.indexOf('\n## ', readme.indexOf('## candor explain') + 1),
);
const blocks = [...section.matchAll(/```console\n\$ TZ=UTC npx candor explain (.*)\n([\s\S]*?)```/g)].filter(
  (b) => /traefik|caddy|alb\.log|gcp-lb/.test(b[1]),
);

test('the README shows each cloud format on its fixture', () => {
  const shown = blocks.map((b) => b[1]);
  for (const name of ['traefik.log', 'caddy.log', 'alb.log', 'gcp-lb.log'])
    assert.ok(
      shown.some((args) => args.includes(name)),
      `no example on ${name}`,
    );
});

for (const [, args, output] of blocks) {
  test(`README: candor explain ${args}`, async () => {
    const paths = args.split(' ').map((p) => join(ROOT, p));
    const printed = new Set(
      renderText(await explain(paths))
        .split('\n')
        .map((l) => l.replaceAll(ROOT + '/', '')),
    );
    for (const line of output.split('\n')) {
      if (line !== '' && line !== '…')
        assert.ok(printed.has(line), `README shows a line explain does not print:\n${line}`);
    }
  });
}
