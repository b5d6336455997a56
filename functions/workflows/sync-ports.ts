/**
 * What the host sync workflow needs from the world; implemented by the adapters.
 */

import type { KeyObject } from 'node:crypto';
import type { HostCertificateFiles } from '../adapters/host-cert-files.js';
import type { Logger } from '../adapters/json-logger.js';
import type { NginxControl } from '../adapters/nginx-control.js';
import type { ListedObject } from '../adapters/s3-bucket-reader.js';
import type { SyncState } from '../adapters/sync-state-file.js';

export interface SyncContext {
  bucket: { listObjects(): Promise<ListedObject[]>; readText(object: ListedObject): Promise<string> };
  files: Pick<HostCertificateFiles, 'current' | 'exists' | 'install' | 'detach' | 'restore' | 'removeOldVersions' | 'installedDomains' | 'remove'>;
  nginx: Pick<NginxControl, 'testConfiguration' | 'reload' | 'confirmServed'>;
  state: { read(): Promise<SyncState>; write(state: SyncState): Promise<void> };
  lock: () => Promise<{ release(): Promise<void> } | null>;
  log: Logger;
  now: () => Date;
  /** The key placeholders are made with (made once, on first need). */
  placeholderKey: () => KeyObject;
  trustedRoots: readonly string[];
  prune: boolean;
  concurrency: number;
  /** How long to wait for nginx to serve a new certificate after the reload; 0 skips the check. */
  servedCheckTimeoutMs: number;
}

export type { ListedObject, SyncState };
