/**
 * The ACME account key, kept as one SecureString parameter in SSM Parameter Store.
 */

import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { StorageError } from './aws-errors.js';

export class SsmAccountKeyStore {
  constructor(
    private readonly ssm: SSMClient,
    readonly parameterName: string,
    private readonly kmsKeyId?: string,
  ) {}

  /** Returns the account key; throws when there is none yet (a dry run creates nothing: the first real run creates it). */
  async getExisting(): Promise<string> {
    const existing = await this.read();
    if (existing === null) throw new StorageError('reading parameter', this.parameterName, new Error('no ACME account key yet: the first real renewal run creates it, a dry run creates nothing'));
    return existing;
  }

  /**
   * Returns the account key, creating it with `generate` on the very first run. Never replaces an
   * existing key: when a parallel run creates the parameter first, its key is read and used.
   */
  async getOrCreate(generate: () => string): Promise<{ keyPem: string; created: boolean }> {
    const existing = await this.read();
    if (existing !== null) return { keyPem: existing, created: false };
    let created = true;
    try {
      await this.ssm.send(new PutParameterCommand({
        Name: this.parameterName,
        Value: generate(),
        Type: 'SecureString',
        Overwrite: false,
        Description: 'ACME account private key (PEM); created by the renew function',
        ...(this.kmsKeyId ? { KeyId: this.kmsKeyId } : {}),
      }));
    } catch (error) {
      if ((error as { name?: string }).name !== 'ParameterAlreadyExists') throw new StorageError('creating parameter', this.parameterName, error);
      created = false;
    }
    const stored = await this.read();
    if (stored === null) throw new StorageError('reading parameter', this.parameterName, new Error('missing right after it was created'));
    return { keyPem: stored, created };
  }

  private async read(): Promise<string | null> {
    try {
      const result = await this.ssm.send(new GetParameterCommand({ Name: this.parameterName, WithDecryption: true }));
      return result.Parameter?.Value ?? null;
    } catch (error) {
      if ((error as { name?: string }).name === 'ParameterNotFound') return null;
      throw new StorageError('reading parameter', this.parameterName, error);
    }
  }
}
