import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRenewEvent, type RenewRequest } from '../../functions/core/request.js';

/** What EventBridge sends for a scheduled rule. */
const scheduledEvent = {
  version: '0',
  id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: '2026-01-15T03:05:00Z',
  region: 'eu-west-1',
  resources: ['arn:aws:events:eu-west-1:123456789012:rule/renew'],
  detail: {},
};

const requests: { name: string; event: unknown; request: RenewRequest }[] = [
  { name: 'renews what is due for a scheduled event', event: scheduledEvent, request: {} },
  { name: 'renews what is due for an event from aws.events alone', event: { source: 'aws.events' }, request: {} },
  { name: 'renews what is due for an empty payload', event: {}, request: {} },
  { name: 'renews what is due for a null payload', event: null, request: {} },
  { name: 'renews what is due for no payload', event: undefined, request: {} },
  { name: 'renews the listed domains when due', event: { domains: ['a.test', 'b.test'] }, request: { domains: ['a.test', 'b.test'] } },
  { name: 'renews every domain regardless of the window when forced with all', event: { force: true, all: true }, request: { force: true, all: true } },
  { name: 'renews the listed domains when forced', event: { domains: ['a.test'], force: true }, request: { domains: ['a.test'], force: true } },
  { name: 'keeps an explicit force false', event: { domains: ['a.test'], force: false }, request: { domains: ['a.test'], force: false } },
  { name: 'only watches for the hourly watch', event: { mode: 'watch' }, request: { mode: 'watch' } },
  { name: 'breaks the locks of the listed domains when asked', event: { domains: ['a.test'], breakLocks: true }, request: { domains: ['a.test'], breakLocks: true } },
];

for (const { name, event, request } of requests) {
  test(name, () => {
    const result = parseRenewEvent(event);

    assert.deepEqual(result, request);
  });
}

const refused: { name: string; event: unknown; message: RegExp }[] = [
  { name: 'refuses a misspelt field', event: { domain: ['a.test'] }, message: /unknown field "domain" \(known: mode, domains, force, breakLocks, all\)/ },
  { name: 'refuses force with no domains and without all (the duplicate-certificate limit)', event: { force: true }, message: /"force" with no "domains" would re-issue every certificate; name the domains, or add "all": true/ },
  { name: 'refuses all next to domains', event: { domains: ['a.test'], all: true }, message: /give "domains" or "all", not both/ },
  { name: 'refuses all in a watch', event: { mode: 'watch', all: true }, message: /"mode": "watch" renews nothing/ },
  { name: 'refuses an unknown mode', event: { mode: 'audit' }, message: /"mode" must be "renew" or "watch"/ },
  { name: 'refuses a watch that names domains', event: { mode: 'watch', domains: ['a.test'] }, message: /"mode": "watch" renews nothing/ },
  { name: 'refuses breakLocks that is not a boolean', event: { breakLocks: 'yes' }, message: /"breakLocks" must be true or false/ },
  { name: 'refuses a field next to known ones', event: { domains: ['a.test'], dryRun: true }, message: /unknown field "dryRun"/ },
  { name: 'refuses domains given as a string', event: { domains: 'a.test' }, message: /"domains" must be a non-empty array of domain names/ },
  { name: 'refuses an empty list of domains', event: { domains: [] }, message: /"domains" must be a non-empty array/ },
  { name: 'refuses a domain that is not a string', event: { domains: ['a.test', 7] }, message: /"domains" must be a non-empty array/ },
  { name: 'refuses force given as a string', event: { force: 'yes' }, message: /"force" must be true or false/ },
  { name: 'refuses force given as a number', event: { force: 1 }, message: /"force" must be true or false/ },
  // A manual payload of the wrong shape must not be read as a scheduled run that renews whatever is due.
  { name: 'refuses a payload that is a list of domains', event: ['a.test'], message: /invocation payload/ },
  { name: 'refuses a payload that is a domain name', event: 'a.test', message: /invocation payload/ },
];

for (const { name, event, message } of refused) {
  test(name, () => {
    const parse = () => parseRenewEvent(event);

    assert.throws(parse, message);
  });
}
