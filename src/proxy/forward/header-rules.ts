import type { HeaderRules, TemplatePart } from '../../core/config/types.ts';
import { cgiSpelling } from '../../core/http1/cgi-spelling.ts';
import type { StageRequest } from '../stages/stage.ts';

/**
 * What a rule's {variables} stand for in a request, facts every stage reads: `{request_id}`,
 * `{client_ip}` (the client allow/deny and rate limits judge: behind trusted proxies, the one they
 * vouch for, so `set: { X-Real-IP: "{client_ip}" }` names the user, not the load balancer) and
 * `{host}` (the host the request was routed by, lower-cased, without the port).
 */
type RuleVars = Pick<StageRequest, 'requestId' | 'clientIp' | 'host'>;

/**
 * A route's header rules over a flat [name, value, …] list: `remove`, then `set` (every field
 * of that name, `_` for `-` too, replaced by one), then `add` (beside those there). Returns a new list: the one
 * given may be shared by every attempt. The loader refused rules that name the fields Candor
 * writes itself (hop-by-hop, Via, X-Forwarded-*, X-Request-Id, Proxy-Status…), so those are
 * never touched here.
 */
export function applyHeaderRules(headers: readonly string[], rules: HeaderRules, vars: RuleVars): string[] {
  const out: string[] = [];
  keepUnruled(headers, rules, out);
  for (const rule of rules.set) out.push(rule.name, render(rule.value, vars));
  for (const rule of rules.add) out.push(rule.name, render(rule.value, vars));
  return out;
}

/**
 * `headers` without the fields a `remove` or a `set` rule names, every spelling of them as
 * applyHeaderRules reads it: what an interim (1xx) answer keeps of the route's response rules (a
 * field `set` writes is the route's, and the upstream's value of it goes as from the final
 * answer; `set` and `add` write nothing here). A new list when any is named.
 */
export function withoutRuled(headers: readonly string[], rules: HeaderRules): readonly string[] {
  if (rules.remove.length === 0 && rules.set.length === 0) return headers;
  const out: string[] = [];
  keepUnruled(headers, rules, out);
  return out;
}

/**
 * Pushes to `out` the fields of `headers` no `remove` or `set` rule names. Every spelling of a
 * named field: a client's X_Tenant is X-Tenant to a CGI-style app (cgi-spelling.ts), and would
 * stand beside the value `set` wrote, or outlive `remove`.
 */
function keepUnruled(headers: readonly string[], rules: HeaderRules, out: string[]): void {
  for (let i = 0; i < headers.length; i += 2)
    if (!isRuled(cgiSpelling(headers[i].toLowerCase()), rules)) out.push(headers[i], headers[i + 1]);
}

/** Whether a `remove` or a `set` rule names `name` (lower-cased, in its CGI spelling); loops, not a closure a field. */
function isRuled(name: string, rules: HeaderRules): boolean {
  for (let i = 0; i < rules.remove.length; i++) if (cgiSpelling(rules.remove[i]) === name) return true;
  for (let i = 0; i < rules.set.length; i++) if (cgiSpelling(rules.set[i].lower) === name) return true;
  return false;
}

function render(parts: readonly TemplatePart[], vars: RuleVars): string {
  if (parts.length === 1 && typeof parts[0] === 'string') return parts[0];
  let text = '';
  for (const part of parts) {
    if (typeof part === 'string') text += part;
    else if (part.variable === 'request_id') text += vars.requestId;
    else if (part.variable === 'client_ip') text += vars.clientIp;
    else text += vars.host;
  }
  return text;
}
