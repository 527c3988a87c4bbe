/**
 * A reload whose config-reading process ends without an answer (the OOM killer, a fork the
 * system refused) is refused as a read past its deadline is: logged, answered and counted, the
 * running config kept. It was thrown: a SIGHUP's reload vanished without a line, and the admin
 * API's was a 500.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { adminCall, startServe, stopConfigReader } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const TOKEN = 'reader-gone-token-0123456789abcdef';
const REFUSED = 'reload refused: the config is invalid; the running config stays';

test('a reload whose reading process is killed is refused with its reason, by SIGHUP and by the admin API; the next one reloads', async (t) => {
  const dir = tempDir('candor-reader-gone-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:\n  - address: 127.0.0.1:0\nadmin: { listen: "127.0.0.1:0", token_file: ${join(dir, 'token')} }\n` +
      `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:9\n`,
  );
  const serve = await startServe(path, 1, { admin: true });
  t.after(() => serve.stop());

  serve.child.kill('SIGHUP');
  process.kill(await stopConfigReader(serve), 'SIGKILL');
  await serve.waitForLines(REFUSED, 1);
  const line = serve.lines.find((l) => l.msg === REFUSED);
  assert.deepEqual(
    { level: line?.level, via: line?.via, problems: line?.problems },
    {
      level: 'error',
      via: 'SIGHUP',
      problems: [
        {
          file: path,
          line: 0,
          column: 0,
          path: '',
          message: 'config loader: its process ended (SIGKILL) without an answer',
        },
      ],
    },
  );

  const answer = adminCall(serve.adminPort as number, 'POST', '/reload', { token: TOKEN });
  process.kill(await stopConfigReader(serve), 'SIGKILL');
  const refused = await answer;
  assert.equal(refused.status, 400, refused.text);
  assert.equal((refused.body.reload as { result: string }).result, 'invalid');

  const again = await adminCall(serve.adminPort as number, 'POST', '/reload', { token: TOKEN });
  assert.equal(again.status, 200, again.text);
});
