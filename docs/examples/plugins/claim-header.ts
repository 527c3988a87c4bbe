/**
 * A header from a JWT claim: the token's `sub` (or the claim `options.claim` names) goes upstream
 * as `options.header`. It reads the token only: put it on a route whose `auth.jwt` checks the
 * signature first (the access stages run before any plugin), so what it reads is what was verified.
 */
import type { Plugin, PluginOptionProblem } from 'candor';

interface Options {
  readonly claim?: string;
  readonly header: string;
}

export function validate(options: unknown): PluginOptionProblem[] {
  const o = (options ?? {}) as Partial<Options>;
  const problems: PluginOptionProblem[] = [];
  if (typeof o.header !== 'string' || !/^x-[a-z0-9-]+$/i.test(o.header))
    problems.push({ path: 'header', message: 'expected a header name like x-user-id' });
  if (o.claim !== undefined && typeof o.claim !== 'string')
    problems.push({ path: 'claim', message: 'expected a claim name' });
  return problems;
}

const claimHeader: Plugin<Options> = (options) => {
  const claim = options.claim ?? 'sub';
  return {
    onRequest(request) {
      // The client's own copy never goes upstream: the header says what the token says, or nothing.
      request.headers.delete(options.header);
      const token = /^Bearer (\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1];
      const payload = token?.split('.')[1];
      if (payload === undefined) return;
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
        string,
        unknown
      >;
      const value = claims[claim];
      if (typeof value === 'string') request.headers.set(options.header, value);
    },
  };
};

export default claimHeader;
