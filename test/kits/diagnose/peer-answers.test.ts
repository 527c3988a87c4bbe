/**
 * `candor diagnose` against answers real proxies give, written as they write them. nginx answers
 * plain HTTP on a TLS port (`listen 443 ssl`) with a 400 page, "The plain HTTP request was sent
 * to HTTPS port", to every request: diagnose said "none needed: the upstream answers as an HTTP
 * server should" of a target no request through an http:// upstream would ever pass.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';

const faults: Fault[] = [];
after(() => Promise.all(faults.map((f) => f.close())));

/** A server that answers every request with `answer`, then closes. */
async function answering(answer: string): Promise<Fault> {
  const fault = await startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.end(answer);
  });
  faults.push(fault);
  return fault;
}

const page = (title: string, text: string) =>
  `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>${text}</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;

test("nginx's 400 for plain HTTP on its TLS port: the fix is https://, not 'none needed'", async () => {
  const body = page(
    '400 The plain HTTP request was sent to HTTPS port',
    'The plain HTTP request was sent to HTTPS port',
  );
  const nginx = await answering(
    `HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
  const { verdict } = (await diagnose({ target: nginx.url })).targets[0];
  assert.equal(verdict.status, 400);
  assert.equal(
    verdict.fix,
    'the target is an HTTPS port: it answers every plain HTTP request 400 "The plain HTTP request was sent to HTTPS port" (nginx, on a listen … ssl port). Use https:// in the target URL.',
  );

  // Another 400 says nothing of the scheme.
  const other = page('400 Bad Request', 'Request Header Or Cookie Too Large');
  const plain = await answering(
    `HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: ${other.length}\r\nConnection: close\r\n\r\n${other}`,
  );
  assert.equal(
    (await diagnose({ target: plain.url })).targets[0].verdict.fix,
    'none needed: the upstream answers as an HTTP server should.',
  );
});
