import type { IncomingMessage, ServerResponse } from 'node:http';
import { ALLOW } from '../decide/error-response.ts';
import { logRequest } from '../log/access-log.ts';
import type { Logger } from '../log/logger.ts';
import { createRecord } from '../session/admit.ts';

/** `OPTIONS *`: a question about the server as a whole, not about any resource (RFC 9110 §9.3.7). */
export function isServerOptions(req: IncomingMessage): boolean {
  return req.method === 'OPTIONS' && req.url === '*';
}

/**
 * The gateway is the server the client is talking to, so it answers `OPTIONS *` itself
 * (it asks about the server, which is Candor; failing it as a 502 would blame an upstream
 * that was never asked). Logged like any request.
 */
export function answerServerOptions(req: IncomingMessage, res: ServerResponse, logger: Logger): void {
  const record = createRecord(req);
  record.status = 200;
  res.once('close', () => logRequest(logger, record));
  res.writeHead(200, { allow: ALLOW, 'content-length': '0', 'x-request-id': record.id });
  res.end();
}
