/**
 * The agent's --full-listing-every flag (functions/sync/config.ts): one line per value.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rootCertificates } from 'node:tls';
import { readAgentCommand } from '../../functions/sync/config.js';

function fullListingEvery(args: string[], env: NodeJS.ProcessEnv = {}): number {
  const command = readAgentCommand(['--bucket', 'certs', ...args], env, rootCertificates);
  assert.equal(command.command, 'sync');
  return command.command === 'sync' ? command.config.fullListingEveryMs : -1;
}

const accepted: { name: string; args: string[]; env?: NodeJS.ProcessEnv; ms: number }[] = [
  { name: 'lists in full every 6 hours by default', args: [], ms: 6 * 3_600_000 },
  { name: 'reads minutes', args: ['--full-listing-every', '30m'], ms: 1_800_000 },
  { name: 'reads hours', args: ['--full-listing-every', '1h'], ms: 3_600_000 },
  { name: 'reads days, up to a week', args: ['--full-listing-every', '7d'], ms: 7 * 86_400_000 },
  { name: 'reads a bare number as seconds, as the other flags', args: ['--full-listing-every', '90'], ms: 90_000 },
  { name: 'reads 0: every run lists in full', args: ['--full-listing-every', '0'], ms: 0 },
  { name: 'reads FULL_LISTING_EVERY from the environment', args: [], env: { FULL_LISTING_EVERY: '2h' }, ms: 7_200_000 },
  { name: 'prefers the flag to the environment', args: ['--full-listing-every', '10m'], env: { FULL_LISTING_EVERY: '2h' }, ms: 600_000 },
];

for (const { name, args, env, ms } of accepted) {
  test(name, () => {
    assert.equal(fullListingEvery(args, env), ms);
  });
}

for (const value of ['8d', '1w', '-1h', 'h', '1.5h', '6 h', '99999999999']) {
  test(`refuses --full-listing-every ${JSON.stringify(value)}, naming the flag`, () => {
    assert.throws(() => fullListingEvery([`--full-listing-every=${value}`]), /--full-listing-every ".*" must be a duration such as 30m, 6h or 1d \(0: every run\), at most 7d/);
  });
}
