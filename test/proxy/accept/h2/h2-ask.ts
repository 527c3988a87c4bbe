/** One request on a node:http2 client session, as the h2 accept tests ask it. */
import type { ClientHttp2Session, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';

export interface H2Answer {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly rstCode: number | undefined;
}

/** One request on a node:http2 session, bounded in time. */
export function ask(session: ClientHttp2Session, fields: OutgoingHttpHeaders): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(fields);
    let answer: IncomingHttpHeaders = {};
    let body = '';
    const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5000);
    stream.on('response', (h) => {
      answer = h;
    });
    stream.setEncoding('latin1');
    stream.on('data', (c: string) => {
      body += c;
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      clearTimeout(timer);
      resolve({ headers: answer, body, rstCode: stream.rstCode });
    });
    stream.end();
  });
}
