/**
 * A check that asks a service of its own (an upstream of the config, `options.upstream`) whether
 * the request may go on: its 200 lets it in, any other answer is passed to the client as a 403.
 * When the service is down, slow or its circuit open, the fetch rejects with that hop's failure
 * and the plugin lets it out: the client gets that hop's 502, 504 or 503 naming it, not a 500.
 */
import type { Plugin } from 'candor';

interface Options {
  readonly upstream: string;
}

export function validate(options: unknown): string[] {
  const upstream = (options as Partial<Options> | undefined)?.upstream;
  return typeof upstream === 'string' ? [] : ['expected `upstream`, the name of the upstream to ask'];
}

const serviceCheck: Plugin<Options> = (options, context) => ({
  async onRequest(request) {
    const user = request.headers.get('x-user') ?? '';
    const answer = await context.fetch(options.upstream, `/allow?user=${encodeURIComponent(user)}`, {
      request,
    });
    if (answer.status === 200) return;
    return Response.json(
      { title: 'Forbidden', detail: `the check service said no (${answer.status})` },
      { status: 403, headers: { 'content-type': 'application/problem+json' } },
    );
  },
});

export default serviceCheck;
