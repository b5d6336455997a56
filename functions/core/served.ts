/**
 * What the web hosts serve, judged from outside: a TLS handshake with SNI per configured name, as a
 * browser makes it, compared with the certificate the bucket stores. Pure: the probe is an adapter.
 */

/** What one handshake for `name` with one of its addresses found (`address` empty: the name did not resolve). */
export type ServedAnswer =
  | { name: string; address: string; reached: true; serial: string; notBefore: string; notAfter: string; issuer: string }
  | { name: string; address: string; reached: false; error: string };

/** What status.json records per name; `since` is when this state was first seen. */
export type ServedRecord =
  | { serial: string; notAfter: string; issuer: string; stored: boolean; since: string }
  | { unreachable: string; since: string };

export type ServedFinding = {
  domain: string;
  name: string;
  kind: 'lapsing' | 'mismatch' | 'unreachable';
  detail: string;
};

export interface ServedJudgement {
  records: Record<string, ServedRecord>;
  findings: ServedFinding[];
  /** Per reached name: the fraction of its lifetime left (0 when expired). */
  fractionsLeft: number[];
  daysLeft: number[];
  /** True when the records differ from `previous` in anything but `since` (status.json is rewritten only then). */
  changed: boolean;
}

const DAY_MS = 86_400_000;

/** A name unreachable for this long (two hourly checks) is a finding: one failed handshake is not an outage. */
export const UNREACHABLE_GRACE_MS = 50 * 60_000;

/**
 * Judges the answers for one domain's names (one per name and address) against the stored
 * certificate (`stored`: its serial and when it was stored; null when the bucket has none yet).
 * A name at an address is:
 * - lapsing when what it serves has less than `lapseFraction` of its lifetime left;
 * - mismatched when it serves another certificate than the stored one although the stored one
 *   was stored more than `mismatchGraceMs` ago (hosts install within the hour);
 * - unreachable when no handshake completed, for at least UNREACHABLE_GRACE_MS (as `previous`
 *   records: the first failure is recorded, the next one is a finding).
 * Records are kept per name, or per name and address when a name has several addresses.
 */
export function judgeServedDomain(args: {
  domain: string;
  answers: readonly ServedAnswer[];
  stored: { serial: string; renewedAt: string | null } | null;
  previous: Readonly<Record<string, ServedRecord>> | undefined;
  now: Date;
  mismatchGraceMs: number;
  lapseFraction: number;
}): ServedJudgement {
  const { domain, stored, previous, now } = args;
  const records: Record<string, ServedRecord> = {};
  const findings: ServedFinding[] = [];
  const fractionsLeft: number[] = [];
  const daysLeft: number[] = [];
  const perName = new Map<string, number>();
  for (const answer of args.answers) perName.set(answer.name, (perName.get(answer.name) ?? 0) + 1);
  for (const answer of args.answers) {
    const key = (perName.get(answer.name) ?? 0) > 1 ? `${answer.name} [${answer.address}]` : answer.name;
    const where = key === answer.name ? answer.name : `${answer.name} at ${answer.address}`;
    const before = previous?.[key];
    if (!answer.reached) {
      const since = before && 'unreachable' in before ? before.since : now.toISOString();
      records[key] = { unreachable: answer.error, since };
      if (now.getTime() - new Date(since).getTime() >= UNREACHABLE_GRACE_MS) {
        findings.push({ domain, name: answer.name, kind: 'unreachable', detail: `${where}: cannot be reached over TLS since ${since}: ${answer.error}` });
      }
      continue;
    }
    const isStored = stored !== null && answer.serial === stored.serial;
    const same = before && 'serial' in before && before.serial === answer.serial && before.stored === isStored;
    records[key] = { serial: answer.serial, notAfter: answer.notAfter, issuer: answer.issuer, stored: isStored, since: same ? before.since : now.toISOString() };

    const lifetime = new Date(answer.notAfter).getTime() - new Date(answer.notBefore).getTime();
    const left = new Date(answer.notAfter).getTime() - now.getTime();
    const fraction = lifetime > 0 ? Math.max(0, left / lifetime) : 0;
    fractionsLeft.push(fraction);
    daysLeft.push(Math.max(0, left / DAY_MS));
    if (fraction < args.lapseFraction) {
      const state = left <= 0 ? `expired ${answer.notAfter}` : `expires ${answer.notAfter} (${(left / DAY_MS).toFixed(1)} days left, ${Math.round(fraction * 100)}% of its lifetime)`;
      findings.push({ domain, name: answer.name, kind: 'lapsing', detail: `${where} serves serial ${answer.serial}, which ${state}` });
    }
    if (stored && !isStored) {
      const availableSince = stored.renewedAt ?? records[answer.name]?.since ?? now.toISOString();
      if (now.getTime() - new Date(availableSince).getTime() > args.mismatchGraceMs) {
        findings.push({ domain, name: answer.name, kind: 'mismatch', detail: `${where} serves serial ${answer.serial} (${answer.issuer}), not the stored serial ${stored.serial}, stored ${availableSince}: a host has not installed it` });
      }
    }
  }
  return { records, findings, fractionsLeft, daysLeft, changed: !sameRecords(records, previous) };
}

/** True when two sets of records say the same, leaving out when each state began and an error's wording. */
function sameRecords(records: Record<string, ServedRecord>, previous: Readonly<Record<string, ServedRecord>> | undefined): boolean {
  if (!previous) return Object.keys(records).length === 0;
  const strip = (record: ServedRecord | undefined) => (!record ? '' : 'unreachable' in record ? 'unreachable' : JSON.stringify({ ...record, since: undefined }));
  const names = new Set([...Object.keys(records), ...Object.keys(previous)]);
  return [...names].every((name) => strip(records[name]) === strip(previous[name]));
}

/** The figures the metrics publish, over every name of every domain. */
export interface ServedSummary {
  /** The smallest fraction of lifetime left across reached names (null: none reached). */
  minFractionLeft: number | null;
  minDaysLeft: number | null;
  mismatched: number;
  unreachable: number;
  lapsing: number;
}

export function summarizeServed(judgements: readonly Pick<ServedJudgement, 'findings' | 'fractionsLeft' | 'daysLeft'>[]): ServedSummary {
  const fractions = judgements.flatMap((item) => item.fractionsLeft);
  const days = judgements.flatMap((item) => item.daysLeft);
  const findings = judgements.flatMap((item) => item.findings);
  const count = (kind: ServedFinding['kind']) => findings.filter((finding) => finding.kind === kind).length;
  return {
    minFractionLeft: fractions.length > 0 ? Math.min(...fractions) : null,
    minDaysLeft: days.length > 0 ? Math.min(...days) : null,
    mismatched: count('mismatch'),
    unreachable: count('unreachable'),
    lapsing: count('lapsing'),
  };
}
