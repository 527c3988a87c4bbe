/**
 * The shapes of `Authorization: Basic` a hostile or sloppy client sends, held where a
 * differential against nginx 1.22's auth_basic found them right (docs/hostile-peers.md, "Access
 * control against nginx"): each sent raw over a socket, each answer's status and challenge
 * asserted, and what reached a raw recording upstream. Credentials let in never reach it
 * (`forward_authorization` is off); refused ones reach nothing.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { rawRequest } from '../../helpers/http-client.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const CHALLENGE = 'www-authenticate: Basic realm="Staff area", charset="UTF-8"';

/**
 * An htpasswd file as editors leave them: CRLF line ends, a comment, a blank line, a hash with
 * spaces after it, a password holding colons, a UTF-8 user name; bcrypt and SHA-crypt.
 */
function usersFile(): string {
  const lines = [
    '# staff',
    `bob:${bcrypt.hashSync('bpw', 4)}`,
    '',
    // openssl passwd -5 -salt saltsalt s5pw
    'carol:$5$saltsalt$0twDdtdux8OAD7r2mNwstZLdpyODAZzeReJj9FMB2t8  ',
    `colon:${bcrypt.hashSync('pa:ss:wd', 4)}`,
    `zoë:${bcrypt.hashSync('ü', 4)}`,
  ];
  const file = join(tempDir('candor-basic-shapes-'), 'users');
  writeFileSync(file, `${lines.join('\r\n')}\r\n`);
  return file;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

async function withGateway(
  run: (ask: (fields: string) => Promise<{ raw: string; reached: string | undefined }>) => Promise<void>,
) {
  const upstream = await scriptedUpstream((socket) =>
    socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'),
  );
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: admin
    match: { path: /admin }
    upstream: app
    auth:
      basic: { users_file: ${usersFile()}, realm: "Staff area" }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`);
  let n = 0;
  const ask = async (fields: string) => {
    const id = `shape-${++n}`;
    const { raw } = await rawRequest(
      gw.port,
      `GET /admin HTTP/1.1\r\nHost: x\r\nX-Shape: ${id}\r\n${fields}Connection: close\r\n\r\n`,
    );
    const reached = upstream.requests.find((r) => r.head.includes(`X-Shape: ${id}\r\n`))?.head;
    return { raw, reached };
  };
  try {
    await run(ask);
  } finally {
    await gw.close();
    await upstream.close();
  }
}

test('the scheme in any case, spaces around the credentials, each hash and name shape: let in, the Authorization stopped', async () => {
  await withGateway(async (ask) => {
    const good = [
      `Authorization: basic ${b64('bob:bpw')}\r\n`,
      `Authorization: BASIC ${b64('bob:bpw')}\r\n`,
      // RFC 9110 §11.4: 1*SP between the scheme and the token68.
      `Authorization: Basic   ${b64('bob:bpw')}\r\n`,
      `Authorization: Basic ${b64('bob:bpw')}   \r\n`,
      `Authorization: Basic ${b64('carol:s5pw')}\r\n`,
      // The user ends at the first colon (RFC 7617 §2): the password keeps the rest.
      `Authorization: Basic ${b64('colon:pa:ss:wd')}\r\n`,
      `Authorization: Basic ${b64('zoë:ü')}\r\n`,
      // A Proxy-Authorization beside it is not read here (and not sent on: request-headers.test.ts).
      `Authorization: Basic ${b64('bob:bpw')}\r\nProxy-Authorization: Basic ${b64('carol:s5pw')}\r\n`,
    ];
    for (const fields of good) {
      const { raw, reached } = await ask(fields);
      assert.match(raw, /^HTTP\/1\.1 200 /, fields);
      assert.ok(reached !== undefined, fields);
      assert.doesNotMatch(reached, /\r\nauthorization:/i, fields);
    }
  });
});

test('credentials a lenient reader would take (no padding, a NUL cut, a comma list, a tab) are a 401 with the challenge, nothing forwarded', async () => {
  await withGateway(async (ask) => {
    const refused = [
      '',
      // nginx decodes base64 without its padding (and lets this one in); RFC 7617 asks for RFC 4648's.
      `Authorization: Basic ${b64('colon:pa:ss:wd').replace(/=+$/, '')}\r\n`,
      // crypt(3) reads a password to its NUL: nginx lets "bpw\0x" in as "bpw".
      `Authorization: Basic ${b64('bob:bpw\0x')}\r\n`,
      `Authorization: Basic ${b64('carol:s5pw\0x')}\r\n`,
      // One credential per field (RFC 9110 §11.6.2): nginx decodes up to the comma and lets it in.
      `Authorization: Basic ${b64('bob:bpw')}, Bearer abc\r\n`,
      `Authorization: Bearer abc, Basic ${b64('bob:bpw')}\r\n`,
      `Authorization: Basic\t${b64('bob:bpw')}\r\n`,
      `Authorization: Basic${b64('bob:bpw')}\r\n`,
      `Authorization: Basic ${b64('bob:bpw').slice(0, 4)} ${b64('bob:bpw').slice(4)}\r\n`,
      `Authorization: Basic ${b64('bob:bpw').replace(/=/g, '')}-_\r\n`,
      `Authorization: Basic ${b64('bobbpw')}\r\n`,
      `Authorization: Basic ${b64(':bpw')}\r\n`,
      `Authorization: Basic ${b64('bob:')}\r\n`,
      'Authorization: Basic \r\n',
      `Authorization: Basic ${Buffer.from('zo\xeb:\xfc', 'latin1').toString('base64')}\r\n`,
      `Authorization: Basic ${b64('# staff:')}\r\n`,
      // The credentials of a proxy are not the route's.
      `Proxy-Authorization: Basic ${b64('bob:bpw')}\r\n`,
      'Authorization: Digest username="bob"\r\n',
    ];
    for (const fields of refused) {
      const { raw, reached } = await ask(fields);
      assert.match(raw, /^HTTP\/1\.1 401 /, fields);
      assert.ok(raw.includes(`\r\n${CHALLENGE}\r\n`), fields);
      assert.equal(reached, undefined, fields);
    }
  });
});
