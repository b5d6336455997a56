/**
 * The host sync agent's decisions, as pure functions of what the bucket listing shows, what the
 * agent recorded when nginx last confirmed a pair, and what is installed. The workflows
 * (workflows/sync-domain.ts, sync-host.ts) carry the plans out and decide nothing themselves.
 *
 * Contract of the plans: a pair that failed verification is never installed; a real certificate is
 * never replaced by a placeholder, nor by an older certificate (a rollback); a domain's record is
 * saved only once nginx is confirmed serving its pair, or known not to use it.
 */

/** SHA-256 (hex) of the two files nginx reads: what status.json records, and what makes two pairs the same. */
export interface PairDigests {
  fullChain: string;
  key: string;
}

/** The facts of a certificate pair, installed or in the bucket. */
export interface PairFacts {
  serial: string;
  notBefore: string;
  notAfter: string;
  names: string[];
  placeholder: boolean;
  digests: PairDigests;
}

/** What the bucket listing shows for one domain folder: the ETags of the pair, and whether status.json is there. */
export interface ListedDomain {
  fullChain?: string;
  key?: string;
  status?: boolean;
}

/** The ETags of the two bucket objects a pair came from. */
export interface PairEtags {
  fullChain: string;
  key: string;
}

/** The pair installed for a domain; `version` is the symlink's target (null: a plain directory from before the agent). */
export interface InstalledPair extends PairFacts {
  version: string | null;
}

/** What the agent records for a domain, once per confirmed pair. */
export interface DomainRecord extends InstalledPair {
  /** The bucket objects the pair came from (null: a placeholder). */
  etags: PairEtags | null;
  installedAt: string;
  /**
   * `confirmed`: nginx was seen serving the pair after the reload (a placeholder: nginx reloaded
   * with it); `unreferenced`: no server block uses the pair, so no reload was needed for it.
   */
  served: 'confirmed' | 'unreferenced';
}

/** The bucket's pair after download and verification, or why it cannot be installed (the reason is reported as is). */
export type FetchedPair =
  | { verified: true; facts: PairFacts; etags: PairEtags }
  | { verified: false; reason: string };

export type DomainPlan =
  /** Leave what is installed; save `record` when it is not null (null: keep whatever was recorded). */
  | { action: 'keep'; record: DomainRecord | null; failure?: string }
  /** The bucket holds a pair this host has not confirmed: download and verify it, then plan again with `fetched`. */
  | { action: 'fetch' }
  /** Install the verified bucket pair (`failure`: it is itself about to lapse). */
  | { action: 'install'; pair: PairFacts; etags: PairEtags; failure?: string }
  /** Nothing real to install and nothing installed: nginx refuses to start without a pair. */
  | { action: 'placeholder'; failure?: string }
  /** Installed but never confirmed (a failed reload, a killed run): reload and confirm it again. */
  | { action: 'reconfirm'; pair: InstalledPair; etags: PairEtags | null; failure?: string };

export interface DomainPlanInput {
  domain: string;
  listed: ListedDomain;
  record: DomainRecord | null;
  installed: InstalledPair | null;
  /** Present on the second call, once a `fetch` plan was carried out. */
  fetched?: FetchedPair;
  now: Date;
}

/**
 * Returns what to do for one domain. Call again with `fetched` after carrying out a `fetch` plan.
 * A plan that leaves the installed pair in place carries a failure when that pair is about to
 * lapse (see lapseProblem): the host never keeps an expiring certificate quietly.
 */
export function planDomain(input: DomainPlanInput): DomainPlan {
  const plan = planWithoutLapse(input);
  const served = plan.action === 'install' ? plan.pair : plan.action === 'keep' || plan.action === 'reconfirm' ? input.installed : null;
  const lapse = served && lapseProblem(served, plan.action === 'keep' ? input.record : null, input.now);
  if (!lapse || (plan.action !== 'install' && plan.action !== 'keep' && plan.action !== 'reconfirm')) return plan;
  return { ...plan, failure: plan.failure ? `${plan.failure}; ${lapse}` : lapse };
}

function planWithoutLapse(input: DomainPlanInput): DomainPlan {
  const { listed, record, installed } = input;
  const known = confirmedInstalled(record, installed);
  if (input.fetched) return planFetched(input, input.fetched, known);
  if (hasPair(listed)) return known && sameEtags(known.etags, listed) ? { action: 'keep', record: null } : { action: 'fetch' };
  if (!installed) return { action: 'placeholder' };
  if (known) return { action: 'keep', record: null };
  return { action: 'reconfirm', pair: installed, etags: null };
}

/** A certificate kept with less than this fraction of its lifetime left fails the run (renewal happens with a third left). */
export const LAPSE_FRACTION = 1 / 4;
/** A placeholder still served this long after it was installed fails the run: its domain has had no certificate for days. */
export const PLACEHOLDER_GRACE_MS = 2 * 86_400_000;

/**
 * Returns why keeping `installed` is a lapse in the making, or null: a real certificate with less
 * than a quarter of its lifetime left (renewals come with a third left, so this means the bucket
 * has had nothing newer for days), one that expired or cannot be read, or a placeholder installed
 * (per `record`) more than two days ago.
 */
export function lapseProblem(installed: PairFacts, record: Pick<DomainRecord, 'installedAt'> | null, now: Date): string | null {
  if (installed.placeholder) {
    const since = record ? new Date(record.installedAt) : null;
    if (!since || now.getTime() - since.getTime() <= PLACEHOLDER_GRACE_MS) return null;
    return `still a self-signed placeholder, installed ${record?.installedAt}: the bucket has had no certificate for it since (is the renew function failing for it?)`;
  }
  const notBefore = new Date(installed.notBefore).getTime();
  const notAfter = new Date(installed.notAfter).getTime();
  if (installed.serial === 'unreadable') return 'the installed certificate cannot be read, and the bucket has no certificate to replace it';
  if (now.getTime() >= notAfter) return `the installed certificate expired ${installed.notAfter}, and the bucket has no newer one`;
  if (notAfter - now.getTime() < (notAfter - notBefore) * LAPSE_FRACTION) {
    const days = ((notAfter - now.getTime()) / 86_400_000).toFixed(1);
    return `the installed certificate expires ${installed.notAfter} (${days} days left, less than a quarter of its lifetime), and the bucket has no newer one (is the renew function failing for it?)`;
  }
  return null;
}

function planFetched(input: DomainPlanInput, fetched: FetchedPair, known: DomainRecord | null): DomainPlan {
  const { installed } = input;
  if (!fetched.verified) return refused(fetched.reason, installed, known);
  if (installed && sameDigests(installed.digests, fetched.facts.digests)) {
    // The very pair is installed: new ETags for the same content, or a run that never confirmed it.
    if (known) return { action: 'keep', record: { ...known, etags: fetched.etags } };
    return { action: 'reconfirm', pair: installed, etags: fetched.etags };
  }
  const rollback = installed && rollbackProblem(input.domain, installed, fetched.facts, input.now);
  if (rollback) return refused(`refused: ${rollback}`, installed, known);
  return { action: 'install', pair: fetched.facts, etags: fetched.etags };
}

/** A refused bucket pair: what is installed stays; nothing installed gets a placeholder; an unconfirmed pair is reloaded. */
function refused(failure: string, installed: InstalledPair | null, known: DomainRecord | null): DomainPlan {
  if (!installed) return { action: 'placeholder', failure };
  if (!known) return { action: 'reconfirm', pair: installed, etags: null, failure };
  return { action: 'keep', record: null, failure };
}

/**
 * Returns why installing `bucket` over `installed` would be a rollback, or null: a real, still
 * valid certificate for the domain is never replaced by one issued before it (an old object
 * version restored, a stale copy). A shorter lifetime is no reason: CAs shorten lifetimes.
 */
export function rollbackProblem(domain: string, installed: PairFacts, bucket: PairFacts, now: Date): string | null {
  if (installed.placeholder || !installed.names.includes(domain) || new Date(installed.notAfter) <= now) return null;
  if (new Date(bucket.notBefore) >= new Date(installed.notBefore)) return null;
  return `rollback: the bucket's certificate was issued ${bucket.notBefore}, before the installed one (${installed.notBefore})`;
}

/** Returns the record when it describes exactly what is installed (same version directory), else null. */
function confirmedInstalled(record: DomainRecord | null, installed: InstalledPair | null): DomainRecord | null {
  if (!record || !installed) return null;
  return record.version === installed.version && sameDigests(record.digests, installed.digests) ? record : null;
}

function hasPair(listed: ListedDomain): listed is Required<ListedDomain> {
  return listed.fullChain !== undefined && listed.key !== undefined && listed.status === true;
}

function sameEtags(recorded: PairEtags | null, listed: ListedDomain): boolean {
  return recorded !== null && recorded.fullChain === listed.fullChain && recorded.key === listed.key;
}

function sameDigests(a: PairDigests, b: PairDigests): boolean {
  return a.fullChain === b.fullChain && a.key === b.key;
}

/** What a run changed for one domain, carried out; the input of planConfirmation. */
export interface DomainChange {
  domain: string;
  /** The record to save once nginx confirms the pair (served is decided by planConfirmation). */
  record: Omit<DomainRecord, 'served'>;
}

/** Which domains nginx's configuration uses: every one (a variable in ssl_certificate), a known set, or unknown (no configuration dump). */
export type References = { kind: 'all' } | { kind: 'some'; domains: ReadonlySet<string> } | { kind: 'unknown' };

export interface ConfirmationPlan {
  /** True when any changed pair is used by nginx: send one reload. */
  reload: boolean;
  /** The names to check over TLS after the reload: each must serve `serial` (placeholders are only reloaded). */
  checks: { domain: string; name: string; serial: string }[];
  /** Changed pairs no server block uses: recorded without a reload, reported once. */
  unreferenced: string[];
}

/**
 * Returns what confirming a run's changes takes: one reload when nginx uses any changed pair, a
 * TLS check of every name of each real certificate nginx uses, and the pairs nginx does not use
 * (recorded as such, so a host without a server block for a domain is not reloaded every run).
 * With unknown references every pair counts as used.
 */
export function planConfirmation(changes: readonly DomainChange[], references: References): ConfirmationPlan {
  const used = (domain: string) => references.kind !== 'some' || references.domains.has(domain);
  const referenced = changes.filter((change) => used(change.domain));
  return {
    reload: referenced.length > 0,
    // The domain's own name is always checked: it decides whether the pair counts as served.
    checks: referenced
      .filter((change) => !change.record.placeholder)
      .flatMap((change) => [...new Set([change.domain, ...change.record.names])].map((name) => ({ domain: change.domain, name, serial: change.record.serial }))),
    unreferenced: changes.filter((change) => !used(change.domain)).map((change) => change.domain),
  };
}

/** Why `domain` may not be pruned while nginx's configuration uses it (or may, when it does not: null). */
export function pruneProblem(domain: string, references: References, certificatePath: string): string | null {
  if (references.kind === 'unknown') return `cannot tell whether nginx still uses ${certificatePath}: the nginx test printed no configuration (run it as nginx -T), so the pair stays`;
  if (references.kind === 'all') return `nginx's configuration uses certificates by variable under the certificates directory (nginx -T), so ${certificatePath} may still be in use; the pair stays`;
  if (references.domains.has(domain)) return `nginx's configuration still uses ${certificatePath} (nginx -T): remove its server block and reload nginx first; the pair stays`;
  return null;
}
