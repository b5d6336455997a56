import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contactFor, contactNeedsUpdate, formatAccountRecord, parseAccountRecord, type AccountRecord } from '../../functions/core/account.js';

const url = 'https://ca.test/acct/1';
const ops = ['mailto:ops@a.test'];
const record = (contact: string[], accountUrl = url): AccountRecord => ({ accountUrl, contact });

const cases: { name: string; wanted: string[]; returned: string[] | undefined; record: AccountRecord | null; update: boolean }[] = [
  { name: 'leaves a contact the CA returns unchanged alone', wanted: ops, returned: ops, record: null, update: false },
  { name: 'updates a contact the CA returns when it differs', wanted: ops, returned: ['mailto:old@a.test'], record: record(ops), update: true },
  { name: 'leaves the contact alone when the CA returns none and the record says it was set (Let\'s Encrypt)', wanted: ops, returned: undefined, record: record(ops), update: false },
  { name: 'takes an empty list from the CA as none returned', wanted: ops, returned: [], record: record(ops), update: false },
  { name: 'updates when the CA returns none and the record holds another contact', wanted: ops, returned: undefined, record: record(['mailto:old@a.test']), update: true },
  { name: 'updates once when the CA returns none and nothing is recorded', wanted: ops, returned: undefined, record: null, update: true },
  { name: 'ignores a record of another account', wanted: ops, returned: undefined, record: record(ops, 'https://ca.test/acct/2'), update: true },
  { name: 'clears a contact that was set and is no longer wanted', wanted: [], returned: undefined, record: record(ops), update: true },
  { name: 'does nothing when no contact is wanted and none was recorded', wanted: [], returned: undefined, record: null, update: false },
];

for (const { name, wanted, returned, record: recorded, update } of cases) {
  test(name, () => {
    const result = contactNeedsUpdate({ wanted, returned, record: recorded, accountUrl: url });

    assert.equal(result, update);
  });
}

test('makes a mailto contact of an e-mail address, and none of none', () => {
  assert.deepEqual(contactFor('ops@a.test'), ops);
  assert.deepEqual(contactFor(undefined), []);
});

test('reads back a record it wrote, and takes a malformed one as none', () => {
  assert.deepEqual(parseAccountRecord(formatAccountRecord(record(ops))), record(ops));
  for (const text of [null, '', '{', '[]', '{"accountUrl": 1, "contact": []}', '{"accountUrl": "x", "contact": [1]}']) assert.equal(parseAccountRecord(text), null, String(text));
});
