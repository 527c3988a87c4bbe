/**
 * What a valid config may still get wrong, told by `candor check` without failing it: each a
 * sentence naming the field.
 */
import { templateHasRequestId } from '../failure/page-template.ts';
import type { GatewayConfig } from './types.ts';

export function configWarnings(config: GatewayConfig): string[] {
  const warnings: string[] = [];
  const { html } = config.errors.pages;
  if (html !== undefined && !templateHasRequestId(html))
    warnings.push(
      `errors.pages.html: ${JSON.stringify(config.errors.pageFiles.html)} has no {{request_id}}: a client sees no id to quote, and its report cannot be found in the log (the X-Request-Id header still carries it)`,
    );
  return warnings;
}
