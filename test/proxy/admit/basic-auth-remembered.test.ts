/**
 * What a remembered Basic login stands for (basic-auth.ts): the credentials as the client sent
 * them, checked once. Asked of BasicAuth itself: a verdict at once is a remembered login's, a
 * promise a password check's, so what is remembered and what is checked again is seen without
 * timing anything.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { BasicAuth, type BasicVerdict } from '../../../src/proxy/admit/basic-auth.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const basic = (credentials: string) => ({
  authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
});

function authOf(lines: readonly string[]): BasicAuth {
  const file = join(tempDir('candor-basic-remembered-'), 'users');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return new BasicAuth({ usersFile: file, realm: 'Staff area' });
}

/** The verdict, and whether it came at once (remembered) or after a password check. */
async function verdictOf(
  auth: BasicAuth,
  fields: Record<string, string>,
): Promise<{ at: 'once' | 'checked'; verdict: BasicVerdict }> {
  const got = auth.verify(fields, '127.0.0.1');
  return got instanceof Promise ? { at: 'checked', verdict: await got } : { at: 'once', verdict: got };
}

test('a remembered login lets in its own credentials only: a wrong password, another user, another spelling of them are checked', async () => {
  const auth = authOf([`alice:${bcrypt.hashSync('right', 4)}`, `bob:${bcrypt.hashSync('right', 4)}`]);
  assert.deepEqual(await verdictOf(auth, basic('alice:right')), {
    at: 'checked',
    verdict: { user: 'alice' },
  });
  assert.deepEqual(await verdictOf(auth, basic('alice:right')), { at: 'once', verdict: { user: 'alice' } });
  // The scheme in another case, spaces around the credentials: the same credentials as sent.
  const token = Buffer.from('alice:right').toString('base64');
  assert.deepEqual(await verdictOf(auth, { authorization: `bASIC   ${token}  ` }), {
    at: 'once',
    verdict: { user: 'alice' },
  });
  assert.deepEqual(await verdictOf(auth, basic('alice:wrong')), {
    at: 'checked',
    verdict: { refused: 'bad credentials for user "alice"' },
  });
  assert.deepEqual(await verdictOf(auth, basic('alice:righ')), {
    at: 'checked',
    verdict: { refused: 'bad credentials for user "alice"' },
  });
  assert.deepEqual(await verdictOf(auth, basic('bob:right')), { at: 'checked', verdict: { user: 'bob' } });
  // The same bytes in another base64 spelling (the padding's spare bits set): checked on its own.
  assert.equal(token.at(-2), 'Q');
  const spelled = `${token.slice(0, -2)}R=`;
  assert.equal(Buffer.from(spelled, 'base64').toString(), 'alice:right');
  assert.deepEqual(await verdictOf(auth, { authorization: `Basic ${spelled}` }), {
    at: 'checked',
    verdict: { user: 'alice' },
  });
  // Malformed credentials are refused before anything is remembered or checked.
  assert.deepEqual(await verdictOf(auth, { authorization: `Basic ${token}!` }), {
    at: 'once',
    verdict: { refused: 'malformed credentials' },
  });
});

test('the logins remembered are bounded: past 1,024 the oldest is checked again', async () => {
  const hash = bcrypt.hashSync('pw', 4);
  const users = Array.from({ length: 1025 }, (_, i) => `u${i}`);
  const auth = authOf(users.map((user) => `${user}:${hash}`));
  for (const user of users)
    assert.deepEqual(await verdictOf(auth, basic(`${user}:pw`)), { at: 'checked', verdict: { user } });
  assert.equal((await verdictOf(auth, basic('u1024:pw'))).at, 'once');
  assert.equal((await verdictOf(auth, basic('u1:pw'))).at, 'once');
  assert.deepEqual(await verdictOf(auth, basic('u0:pw')), { at: 'checked', verdict: { user: 'u0' } });
});
