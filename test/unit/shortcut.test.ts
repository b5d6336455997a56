import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusShortcut, type ListedFolder } from '../../functions/core/shortcut.js';
import type { DomainStatus } from '../../functions/core/status.js';

const status: DomainStatus = {
  domain: 'a.test', names: ['a.test', 'www.a.test'], keyType: 'ecdsa-p256', serial: '0abc', issuer: 'CN=R11',
  notBefore: '2026-02-15T03:05:00.000Z', notAfter: '2026-05-16T03:05:00.000Z', renewedAt: '2026-02-15T03:05:10.000Z', files: {},
  lastAttempt: { at: '2026-02-15T03:05:10.000Z', runId: 'r1', outcome: 'renewed' },
  etags: { 'domain.crt': '"crt1"', 'domain.key': '"key1"', 'config.json': null },
  publicKeySha256: 'a'.repeat(64),
  certId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE',
};
const listed: ListedFolder = { etags: { 'domain.crt': '"crt1"', 'domain.key': '"key1"', 'status.json': '"s1"', '': '"m"' }, locked: false };

const cases: { name: string; status: DomainStatus | null; listed?: ListedFolder; readAll: RegExp | null }[] = [
  { name: 'vouches for an unchanged folder', status, listed, readAll: null },
  { name: 'reads the whole folder when domain.crt changed (tampered, or put back by hand)', status, listed: { ...listed, etags: { ...listed.etags, 'domain.crt': '"crt2"' } }, readAll: /domain.crt changed/ },
  { name: 'reads the whole folder when domain.key changed', status, listed: { ...listed, etags: { ...listed.etags, 'domain.key': '"key2"' } }, readAll: /domain.key changed/ },
  { name: 'reads the whole folder when a config.json appeared', status, listed: { ...listed, etags: { ...listed.etags, 'config.json': '"c1"' } }, readAll: /config.json changed/ },
  { name: 'reads the whole folder when config.json was edited', status: { ...status, etags: { ...status.etags, 'config.json': '"c1"' } }, listed: { ...listed, etags: { ...listed.etags, 'config.json': '"c2"' } }, readAll: /config.json changed/ },
  { name: 'reads the whole folder when domain.crt is gone', status, listed: { ...listed, etags: { 'domain.key': '"key1"' } }, readAll: /domain.crt changed/ },
  { name: 'reads the whole folder of a status.json from before', status: { ...status, etags: undefined }, listed, readAll: /from before/ },
  { name: 'reads the whole folder without a readable status.json', status: null, listed, readAll: /no readable status.json/ },
  { name: 'reads the whole folder after a failed attempt', status: { ...status, lastAttempt: { at: '2026-03-01T00:00:00.000Z', runId: 'r2', outcome: 'failed', step: 'validate', reason: 'x' } }, listed, readAll: /last attempt failed/ },
  { name: 'reads the whole folder of a revoked certificate', status: { ...status, revoked: { serial: '0abc', at: '2026-03-01T00:00:00.000Z', reason: 'keyCompromise' } }, listed, readAll: /revocation/ },
  { name: 'reads the whole folder while a lock stands', status, listed: { ...listed, locked: true }, readAll: /lock stands/ },
  { name: 'reads the whole folder of a status naming no certificate', status: { ...status, serial: null }, listed, readAll: /names no certificate/ },
  { name: 'reads the whole folder not in the listing', status, readAll: /not in the listing/ },
];

for (const { name, status: given, listed: folder, readAll } of cases) {
  test(name, () => {
    const result = statusShortcut(given, folder);

    if (readAll) assert.match('readAll' in result ? result.readAll : '', readAll);
    else assert.deepEqual('facts' in result ? result.facts : null, { names: status.names, keyType: 'ecdsa-p256', notBefore: new Date(status.notBefore as string), notAfter: new Date(status.notAfter as string), publicKeySha256: 'a'.repeat(64), certId: status.certId, serial: '0abc' });
  });
}
