/**
 * What `acme-certs status` shows of each domain: one row per folder, from its status.json, its
 * lock (when one stands) and the hosts' reports, with what needs attention. Pure: the caller reads
 * the objects and passes `now` in.
 */

import type { HostReport } from './host-report.js';
import { parseLockHolder } from './locks.js';
import { UNREACHABLE_GRACE_MS } from './served.js';
import { parseStatus } from './status.js';

export interface DomainRow {
  domain: string;
  names: string[];
  serial: string | null;
  notAfter: string | null;
  renewedAt: string | null;
  /** Whole days until notAfter (negative: expired); null without a certificate. */
  daysLeft: number | null;
  lastAttempt: { at: string; outcome: string; step?: string; reason?: string } | null;
  lock: { runId: string; expiresAt: string; expired: boolean } | null;
  /** What each name served when the watch last looked (status.json `served`). */
  served: { name: string; what: string }[];
  /** What each reporting host has installed for the domain. */
  hosts: { host: string; serial: string; current: boolean; confirmed: boolean }[];
  /** What needs attention; empty when all is well. */
  attention: string[];
}

const DAY_MS = 86_400_000;

/**
 * Returns the row of one domain, judged by the watch's rules and settings: `lapseFraction` (a
 * certificate with less of its lifetime left needs attention), `mismatchGraceMs` (how long a name
 * may serve the previous certificate after a renewal). Hosts are listed here; what they do wrong is
 * judged across domains (core/host-report.ts judgeHosts) and added by the caller.
 */
export function domainRow(args: { domain: string; statusText: string | null; lockText: string | null; reports: readonly HostReport[]; now: Date; lapseFraction: number; mismatchGraceMs: number }): DomainRow {
  const { domain, now } = args;
  const status = parseStatus(args.statusText);
  const attention: string[] = [];
  if (args.statusText !== null && status === null) attention.push('status.json cannot be read (the next run repairs it from files that verify)');
  const serial = status?.serial ?? null;
  const notAfter = status?.notAfter ?? null;
  const daysLeft = notAfter ? Math.floor((new Date(notAfter).getTime() - now.getTime()) / DAY_MS) : null;
  if (!serial) attention.push('no certificate yet');
  else if (notAfter && status?.notBefore) {
    const lifetime = new Date(notAfter).getTime() - new Date(status.notBefore).getTime();
    const left = new Date(notAfter).getTime() - now.getTime();
    if (left <= 0) attention.push(`expired ${notAfter}`);
    else if (left < lifetime * args.lapseFraction) attention.push(`${daysLeft} days left, less than ${Math.round(args.lapseFraction * 100)}% of its lifetime`);
  }
  const lastAttempt = status?.lastAttempt ? { at: status.lastAttempt.at, outcome: status.lastAttempt.outcome, ...(status.lastAttempt.step ? { step: status.lastAttempt.step } : {}), ...(status.lastAttempt.reason ? { reason: status.lastAttempt.reason } : {}) } : null;
  if (lastAttempt?.outcome === 'failed') attention.push(`last attempt failed at ${lastAttempt.step ?? 'an unknown step'}: ${lastAttempt.reason ?? 'no reason recorded'}`);
  if (status?.revoked && status.revoked.serial === serial) attention.push(`the stored certificate was revoked ${status.revoked.at} (${status.revoked.reason}); the next run renews it`);

  const holder = args.lockText === null ? null : parseLockHolder(args.lockText);
  const lock = args.lockText === null ? null : { runId: holder?.runId ?? 'unreadable', expiresAt: holder?.expiresAt ?? 'unknown', expired: !holder || !(new Date(holder.expiresAt) > now) };
  if (lock?.expired) attention.push(`a renewal lock that expired ${lock.expiresAt} (run ${lock.runId}): the next run takes it over`);

  const served = Object.entries(status?.served ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([name, record]) => {
    const age = now.getTime() - new Date(record.since).getTime();
    if ('unreachable' in record) {
      if (age > UNREACHABLE_GRACE_MS) attention.push(`${name} unreachable since ${record.since}: ${record.unreachable}`);
      return { name, what: `unreachable since ${record.since}` };
    }
    if (!record.stored && age > args.mismatchGraceMs) attention.push(`${name} serves serial ${record.serial}, not the stored one, since ${record.since}`);
    return { name, what: record.stored ? 'the stored certificate' : `serial ${record.serial}` };
  });

  const hosts = args.reports.flatMap((report) => {
    const installed = report.domains[domain];
    if (!installed) return [];
    return [{ host: report.host.name, serial: installed.serial, current: serial !== null && installed.serial === serial, confirmed: installed.served === 'confirmed' }];
  }).sort((a, b) => a.host.localeCompare(b.host));

  return { domain, names: status?.names ?? [], serial, notAfter, renewedAt: status?.renewedAt ?? null, daysLeft, lastAttempt, lock, served, hosts, attention };
}

/** Returns the row as one line of text. */
export function formatDomainRow(row: DomainRow): string {
  const certificate = row.serial ? `serial ${row.serial}, until ${row.notAfter?.slice(0, 10)} (${row.daysLeft} days)` : 'no certificate';
  const last = row.lastAttempt ? `last ${row.lastAttempt.at.slice(0, 16).replace('T', ' ')} ${row.lastAttempt.outcome}${row.lastAttempt.step ? ` at ${row.lastAttempt.step}` : ''}` : 'never attempted';
  const lock = row.lock ? `; locked by ${row.lock.runId}${row.lock.expired ? ' (expired)' : ''}` : '';
  const served = row.served.length > 0 ? `; served: ${row.served.map((item) => `${item.name} ${item.what}`).join(', ')}` : '';
  const hosts = row.hosts.length > 0 ? `; hosts: ${row.hosts.map((item) => `${item.host} ${item.current ? 'current' : `serial ${item.serial}`}${item.confirmed ? '' : ' (not confirmed served)'}`).join(', ')}` : '';
  const names = row.names.length > 0 ? ` [${row.names.join(' ')}]` : '';
  const flag = row.attention.length > 0 ? `  !! ${row.attention.join('; ')}` : '';
  return `${row.domain}${names}: ${certificate}; ${last}${lock}${served}${hosts}${flag}`;
}
