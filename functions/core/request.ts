/**
 * The renew function's invocation payload: a scheduled event (renew what is due) or a manual
 * `{"domains": [...], "force": true}`.
 */

export interface RenewRequest {
  /** Renew only these domains (a manual invoke); every one must be a folder in the bucket. */
  domains?: string[];
  /** Renew regardless of the renewal window. */
  force?: boolean;
}

/** Returns the request an event asks for; throws an Error naming the field at fault. */
export function parseRenewEvent(event: unknown): RenewRequest {
  if (event === null || event === undefined) return {};
  if (typeof event !== 'object' || Array.isArray(event)) throw new Error('invocation payload must be a JSON object such as {"domains":["example.com"],"force":true}');
  const fields = event as Record<string, unknown>;
  if (fields.source === 'aws.events' || fields['detail-type'] === 'Scheduled Event') return {};
  const request: RenewRequest = {};
  for (const key of Object.keys(fields)) {
    if (key !== 'domains' && key !== 'force') throw new Error(`invocation payload has unknown field "${key}" (known: domains, force)`);
  }
  if (fields.domains !== undefined) {
    if (!Array.isArray(fields.domains) || fields.domains.length === 0 || !fields.domains.every((name) => typeof name === 'string')) {
      throw new Error('invocation payload "domains" must be a non-empty array of domain names');
    }
    request.domains = fields.domains as string[];
  }
  if (fields.force !== undefined) {
    if (typeof fields.force !== 'boolean') throw new Error('invocation payload "force" must be true or false');
    request.force = fields.force;
  }
  return request;
}
