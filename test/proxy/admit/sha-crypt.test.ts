/**
 * SHA-crypt held to the test vectors of its specification (Drepper, "Unix crypt using SHA-256
 * and SHA-512") and to hashes glibc/libxcrypt's crypt(3) and openssl passwd wrote.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseShaCrypt, shaCrypt } from '../../../src/proxy/admit/sha-crypt.ts';

const VECTORS: readonly (readonly [string, string, string])[] = [
  // The specification's own.
  ['Hello world!', '$5$saltstring', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'],
  [
    'Hello world!',
    '$5$rounds=10000$saltstringsaltstring',
    '$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA',
  ],
  [
    'This is just a test',
    '$5$rounds=5000$toolongsaltstring',
    '$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5',
  ],
  [
    'a very much longer text to encrypt.  This one even stretches over morethan one line.',
    '$5$rounds=1400$anotherlongsaltstring',
    '$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1',
  ],
  [
    'Hello world!',
    '$6$saltstring',
    '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
  ],
  [
    'Hello world!',
    '$6$rounds=10000$saltstringsaltstring',
    '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
  ],
  [
    'This is just a test',
    '$6$rounds=5000$toolongsaltstring',
    '$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0',
  ],
  [
    'we have a short salt string but not a short password',
    '$6$rounds=77777$short',
    '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0',
  ],
  // crypt(3): an empty password, a UTF-8 one, one longer than a digest.
  ['', '$5$emptypw', '$5$emptypw$j9q8SS0S/38BPIfLsJXsxKvW/sehZJL1AxFdvBj6YQ2'],
  [
    'pässwörd',
    '$6$utf8salt',
    '$6$utf8salt$Nf6juS0Q3mv0f53eB4BVd6Njt8ABkI/Nw9Yqy9ZA65U6sGRcr2ajrL8Kwlq2SfdEvHi3Rhn/AVzWRrTM5gRn80',
  ],
  ['x'.repeat(100), '$5$long', '$5$long$wpi./ia8pC0K3oNxjvO9k3LLIpskESSREW7vw8zHBb6'],
];

test('SHA-crypt gives the specification’s and crypt(3)’s hashes', () => {
  for (const [password, setting, expected] of VECTORS) {
    const parsed = parseShaCrypt(setting);
    assert.ok(parsed, setting);
    assert.equal(shaCrypt(Buffer.from(password, 'utf8'), parsed), expected, `${setting} ${password}`);
    // A whole hash reads back as its own setting.
    const again = parseShaCrypt(expected);
    assert.ok(again);
    assert.equal(shaCrypt(Buffer.from(password, 'utf8'), again), expected);
  }
});

test('SHA-crypt rounds are clamped as the specification says; what is not a setting is none', () => {
  assert.equal(
    shaCrypt(
      Buffer.from('the minimum number is still observed'),
      parseShaCrypt('$5$rounds=10$roundstoolow')!,
    ),
    '$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC',
  );
  assert.equal(parseShaCrypt('$1$abc$def'), undefined);
  assert.equal(parseShaCrypt('$2y$05$abcdefghijklmnopqrstuu'), undefined);
  assert.equal(parseShaCrypt('plain'), undefined);
});
