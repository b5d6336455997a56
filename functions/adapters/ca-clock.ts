/**
 * This run's clock against the CA's: one GET of the ACME directory, read for its `Date` header
 * (RFC 9110 §6.6.1), at the start of every renewal run, whether or not anything is due.
 */

import https from 'node:https';
import { judgeClockSkew, type ClockSkew } from '../core/clock.js';
import type { ClockCheck } from '../workflows/ports.js';

export class CaClock implements ClockCheck {
  constructor(
    private readonly directoryUrl: string,
    private readonly allowanceMs: number,
    private readonly now: () => Date,
    private readonly timeoutMs: number,
  ) {}

  /** Returns the skew, or null when the CA did not answer with a readable Date header (the account step measures again). */
  measure(): Promise<ClockSkew | null> {
    return new Promise((resolve) => {
      const request = https.get(this.directoryUrl, { timeout: this.timeoutMs }, (response) => {
        response.resume();
        resolve(judgeClockSkew(response.headers.date, this.now(), this.allowanceMs));
      });
      request.on('timeout', () => request.destroy());
      request.on('error', () => resolve(null));
    });
  }
}
