import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, type ConfigProblem } from '../../../src/core/config/config-error.ts';
import { loadConfigFile } from '../../../src/core/config/load.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-not-utf8-');
after(() => rm(dir, { recursive: true, force: true }));

const HEAD = 'listen:\n  - address: 127.0.0.1:8080\nroutes:\n  - upstream: api\nupstreams:\n  api:\n';
const TARGETS = '    targets:\n      - url: http://127.0.0.1:3001\n';

async function problemsOfBytes(bytes: Buffer): Promise<readonly ConfigProblem[]> {
  const file = join(dir, 'candor.yaml');
  await writeFile(file, bytes);
  try {
    await loadConfigFile(file, {});
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

// A file saved as Latin-1 or Windows-1252 reads as UTF-8 with U+FFFD in place of each accented
// letter: the maintenance message "Wartung läuft" went to every client as "Wartung l\ufffduft".
test('a byte that is not UTF-8 is refused at its line and field, naming the byte', async () => {
  const bytes = Buffer.concat([
    Buffer.from(`${HEAD}${TARGETS}    maintenance: { message: "Wartung l`),
    Buffer.from([0xe4]),
    Buffer.from('uft" }\n'),
  ]);
  assert.deepEqual(await problemsOfBytes(bytes), [
    {
      file: join(dir, 'candor.yaml'),
      line: 9,
      column: 39,
      path: 'upstreams.api.maintenance.message',
      message:
        'the file is not UTF-8 here: byte 0xe4 is no character in UTF-8 (a file saved as Latin-1 or Windows-1252?); save the file as UTF-8',
    },
  ]);
});

test('one in a comment is refused too, at the mapping around it', async () => {
  const bytes = Buffer.concat([
    Buffer.from(`${HEAD}${TARGETS}    # caf`),
    Buffer.from([0xe9]),
    Buffer.from('\n'),
  ]);
  const [found] = await problemsOfBytes(bytes);
  assert.equal(found?.line, 9);
  assert.equal(found?.column, 10);
  assert.equal(found?.path, 'upstreams.api');
  assert.match(found?.message ?? '', /^the file is not UTF-8 here: byte 0xe9 /);
});

test('UTF-8 text, a byte-order mark and a U+FFFD written in the file itself are read as they are', async () => {
  const text = `${HEAD}${TARGETS}    maintenance: { message: "Wartung läuft \ufffd" }\n`;
  assert.deepEqual(
    await problemsOfBytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])),
    [],
  );
});

// An included file was read with replacement: the same Latin-1 letter that the main file refuses
// went to clients as U+FFFD from conf.d/, or, in a comment, passed unseen.
test('a byte that is not UTF-8 in an included file is refused at its file, line and field', async () => {
  const included = join(dir, 'conf.d', 'shop.yaml');
  await mkdir(join(dir, 'conf.d'), { recursive: true });
  await writeFile(
    included,
    Buffer.concat([
      Buffer.from('# caf'),
      Buffer.from([0xe9]),
      Buffer.from(
        '\nupstreams:\n  shop:\n    targets: [{ url: "http://127.0.0.1:3002" }]\n    maintenance: { message: "Wartung l',
      ),
      Buffer.from([0xe4]),
      Buffer.from('uft" }\n'),
    ]),
  );
  const main = Buffer.from(`include: [conf.d/shop.yaml]\n${HEAD}${TARGETS}`);
  assert.deepEqual(await problemsOfBytes(main), [
    {
      file: join(dir, 'conf.d', 'shop.yaml'),
      line: 1,
      column: 6,
      path: '',
      message:
        'the file is not UTF-8 here: byte 0xe9 is no character in UTF-8 (a file saved as Latin-1 or Windows-1252?); save the file as UTF-8',
    },
  ]);
  // The comment fixed, the value's byte is the one named, not quoted as "l\ufffduft".
  const fixed = await readFile(included);
  await writeFile(included, Buffer.concat([Buffer.from('# cafe'), fixed.subarray(6)]));
  assert.deepEqual(await problemsOfBytes(main), [
    {
      file: join(dir, 'conf.d', 'shop.yaml'),
      line: 5,
      column: 39,
      path: 'upstreams.shop.maintenance.message',
      message:
        'the file is not UTF-8 here: byte 0xe4 is no character in UTF-8 (a file saved as Latin-1 or Windows-1252?); save the file as UTF-8',
    },
  ]);
});

// The parser counts a byte-order mark as a column: `listen: 5` was told at 1:10, its `5` being at 9.
test('a byte-order mark is no column: a problem on line 1 is at the column an editor shows', async () => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);
  const text = 'listen: [{ address: 1 }]\nroutes: 5\n';
  const places = (found: readonly ConfigProblem[]) => found.map((p) => `${p.line}:${p.column} ${p.path}`);
  const expected = ['1:21 listen[0].address', '2:9 routes'];
  assert.deepEqual(places(await problemsOfBytes(Buffer.from(text))), expected);
  assert.deepEqual(places(await problemsOfBytes(Buffer.concat([bom, Buffer.from(text)]))), expected);
});
