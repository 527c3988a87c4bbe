/**
 * The bootstrap files docs/fleet.md shows (the one of "The bootstrap file", the one inside the
 * Kubernetes recipe's ConfigMap) pass `candor check`'s checks of a bootstrap, local section
 * included, with their files and variables made present: a reader who copies one gets a gateway
 * that starts, not one refused at a field the page wrote.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { readBootstrap } from '../../src/core/config/bootstrap-file.ts';
import { testCertificates } from '../../src/kits/fault-kit/tls-certs.ts';
import { localProblems } from '../../src/server/fleet/config-push.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-bootstrap-docs-');
after(() => rmSync(dir, { recursive: true, force: true }));
const page = readFileSync(join(import.meta.dirname, '../../docs/fleet.md'), 'utf8');
const blocks = [...page.matchAll(/<!-- not a candor config: ([^>]*) -->\n```yaml\n([\s\S]*?)```/g)];

/** Every absolute path of the example moved under `dir`, each PEM file a real one. */
function present(text: string): string {
  const { dir: certs } = testCertificates();
  return text.replace(/\/(etc|var)\/[\w./-]+/g, (path) => {
    const here = join(dir, path);
    mkdirSync(join(here, '..'), { recursive: true });
    if (/\.(pem|crt)$/.test(path)) cpSync(join(certs, 'ca.pem'), here);
    if (/\.(key)$|-key\.pem$/.test(path)) cpSync(join(certs, 'ca.key'), here);
    return here;
  });
}

const env = {
  ETCD_PASSWORD: 'secret',
  CANDOR_ADMIN_TOKEN: 'a-token-long-enough-0123456789',
  POD_NAME: 'candor-7d9f-abcde',
};

test('the bootstrap files docs/fleet.md shows are good ones, their local sections too', () => {
  const bootstrap = blocks.find(([, what]) => what === 'a bootstrap file')?.[2];
  const manifest = blocks.find(([, what]) => what === 'a Kubernetes manifest')?.[2];
  assert.ok(bootstrap !== undefined && manifest !== undefined, 'both examples found');
  const configMap = parseAllDocuments(manifest)[0]?.toJS() as { data: Record<string, string> };
  const examples = {
    'bootstrap.yaml': bootstrap,
    'kubernetes-bootstrap.yaml': configMap.data['bootstrap.yaml'],
  };
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    for (const [name, text] of Object.entries(examples)) {
      assert.ok(text !== undefined && parse(text).source !== undefined, `${name} is a bootstrap file`);
      const file = join(dir, name);
      writeFileSync(file, present(text));
      const read = readBootstrap(file, process.env);
      assert.deepEqual(
        localProblems(read, 'required').map((p) => `${name}:${p.line}:${p.column}  ${p.path}: ${p.message}`),
        [],
      );
    }
  } finally {
    for (const key of Object.keys(env)) if (!(key in saved)) delete process.env[key];
  }
});
