import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHopByHop, isHopByHopName } from '../../../src/core/http1/hop-by-hop.ts';

test('isHopByHopName: a name in any case is hop-by-hop exactly when its lower-cased copy is', () => {
  const names = [
    'Connection',
    'KEEP-ALIVE',
    'Proxy-Connection',
    'TE',
    'Te',
    'Transfer-Encoding',
    'Upgrade',
    'HTTP2-Settings',
    // Same lengths, not hop-by-hop.
    'ab',
    'Trailer',
    'Content-Id',
    'Content-Length',
    'X-Proxy-Connect1',
    'Transfer-Encodinh',
    'Expect',
    'Keep_Alive',
    'Proxy_Connection',
    'x',
    '',
  ];
  for (const name of names) assert.equal(isHopByHopName(name), isHopByHop(name.toLowerCase()), name);
});
