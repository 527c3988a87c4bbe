/**
 * A sticky A/B split by cookie: a client without the cookie is drawn a variant (by
 * `options.share`, the share of `b`), keeps it through a cookie set on the upstream's answer, and
 * the upstream reads it in `x-variant`.
 */
import type { Plugin } from 'candor';

interface Options {
  readonly cookie?: string;
  readonly share?: number;
}

const abCookie: Plugin<Options> = (options, context) => {
  const name = options.cookie ?? 'ab';
  const share = options.share ?? 0.5;
  return {
    onRequest(request) {
      const kept = new RegExp(`(?:^|;\\s*)${name}=(a|b)(?:;|$)`).exec(
        request.headers.get('cookie') ?? '',
      )?.[1];
      const variant = kept ?? (Math.random() < share ? 'b' : 'a');
      request.headers.set('x-variant', variant);
      if (kept === undefined) request.headers.set('x-variant-new', '1');
      context.metrics.count('variant', variant);
    },
    onResponse(response, request) {
      // Drawn for this request: the client keeps it from now on.
      if (request.headers.get('x-variant-new') === '1')
        response.headers.append(
          'set-cookie',
          `${name}=${request.headers.get('x-variant')}; Path=/; Max-Age=2592000`,
        );
    },
  };
};

export default abCookie;
