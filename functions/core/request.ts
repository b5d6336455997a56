/**
 * The renew function's invocation payload: a scheduled event (renew what is due, then watch), the
 * hourly watch (`{"mode":"watch"}`: check what is served and what the hosts report, renew nothing),
 * or a manual `{"domains": [...], "force": true, "breakLocks": true}`.
 */

export interface RenewRequest {
  /** `renew` (the default): renew what is due, then watch; `watch`: only watch. */
  mode?: 'renew' | 'watch';
  /** Renew only these domains (a manual invoke); every one must be a folder in the bucket. */
  domains?: string[];
  /** Renew regardless of the renewal window. */
  force?: boolean;
  /** Take the renewal locks even when another run's lock looks live (after a crash). */
  breakLocks?: boolean;
  /** With `force` and no `domains`: yes, re-issue every certificate. */
  all?: boolean;
}

const FIELDS = ['mode', 'domains', 'force', 'breakLocks', 'all'];

/** Returns the request an event asks for; throws an Error naming the field at fault. */
export function parseRenewEvent(event: unknown): RenewRequest {
  if (event === null || event === undefined) return {};
  if (typeof event !== 'object' || Array.isArray(event)) throw new Error('invocation payload must be a JSON object such as {"domains":["example.com"],"force":true}');
  const fields = event as Record<string, unknown>;
  if (fields.source === 'aws.events' || fields['detail-type'] === 'Scheduled Event') return {};
  const request: RenewRequest = {};
  for (const key of Object.keys(fields)) {
    if (!FIELDS.includes(key)) throw new Error(`invocation payload has unknown field "${key}" (known: ${FIELDS.join(', ')})`);
  }
  if (fields.mode !== undefined) {
    if (fields.mode !== 'renew' && fields.mode !== 'watch') throw new Error('invocation payload "mode" must be "renew" or "watch"');
    request.mode = fields.mode;
  }
  if (fields.domains !== undefined) {
    if (!Array.isArray(fields.domains) || fields.domains.length === 0 || !fields.domains.every((name) => typeof name === 'string')) {
      throw new Error('invocation payload "domains" must be a non-empty array of domain names');
    }
    request.domains = fields.domains as string[];
  }
  for (const flag of ['force', 'breakLocks', 'all'] as const) {
    if (fields[flag] === undefined) continue;
    if (typeof fields[flag] !== 'boolean') throw new Error(`invocation payload "${flag}" must be true or false`);
    request[flag] = fields[flag];
  }
  if (request.mode === 'watch' && (request.domains || request.force || request.breakLocks || request.all)) throw new Error('invocation payload: "mode": "watch" renews nothing, so it takes no "domains", "force", "breakLocks" or "all"');
  // Let's Encrypt issues at most 5 certificates a week for the same names: a forced run over every
  // domain, typed by hand for one, would spend a fifth of that for all of them.
  if (request.force && !request.domains && !request.all) throw new Error('invocation payload: "force" with no "domains" would re-issue every certificate; name the domains, or add "all": true');
  if (request.all && request.domains) throw new Error('invocation payload: "all" renews every domain; give "domains" or "all", not both');
  return request;
}
