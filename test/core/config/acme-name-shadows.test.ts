/**
 * A name of `listen[].tls.acme.names` that a configured certificate of the same listener serves:
 * the configured certificates come before the ordered ones (server-tls.ts, docs/configuration.md's
 * `listen[].tls.acme.names`), so the certificate ordered for it would never be served, its order
 * and renewals spent for nothing. `candor check` warns, naming the name's field and the
 * certificate that serves it (by its own name, or a wildcard one label up); a name no configured
 * certificate serves, or one two labels under a wildcard, is not warned of.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { certificateFor } from '../../helpers/named-certs.ts';

test('an ACME name a configured certificate serves is warned of; the others are not', () => {
  const exact = certificateFor(['shop.example.com']);
  const wildcard = certificateFor(['*.example.net']);
  const text = `listen:
  - address: 127.0.0.1:0
    tls:
      certificates:
        - { cert: ${exact.certPath}, key: ${exact.keyPath} }
        - { cert: ${wildcard.certPath}, key: ${wildcard.keyPath} }
      acme:
        names: [shop.example.com, www.example.net, a.b.example.net, fresh.example.com]
acme:
  email: ops@example.com
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`;
  const warnings: ConfigProblem[] = [];
  parseConfig(text, '/etc/candor/candor.yaml', {}, { warnings });
  const told = warnings.filter((w) => w.path.includes('acme')).map((w) => `${w.path}: ${w.message}`);
  assert.deepEqual(told, [
    'listen[0].tls.acme.names[0]: the certificate ordered for shop.example.com would never be served: certificates[0] serves that name (the configured certificates come before the ordered ones); remove it from acme.names, or that certificate from certificates',
    'listen[0].tls.acme.names[1]: the certificate ordered for www.example.net would never be served: certificates[1] serves it (*.example.net) (the configured certificates come before the ordered ones); remove it from acme.names, or that certificate from certificates',
  ]);
});
