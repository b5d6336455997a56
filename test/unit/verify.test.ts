import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { keySha256 } from '../../functions/core/certificate.js';
import { VerificationError } from '../../functions/core/errors.js';
import { verifyCertificate, type VerificationInput } from '../../functions/core/verify.js';
import { chainPem, issue, newKey } from '../helpers/pki.js';

// One PKI for the whole file: four keys, reused across certificates (only signatures matter here).
const rootKey = newKey();
const intermediateKey = newKey();
const leafKey = newKey();
const strangerKey = newKey();

const names = ['a.test', 'www.a.test'];
const now = new Date('2026-02-01T00:00:00Z');
const leafValidity = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2026-04-01T00:00:00Z') };
const caValidity = { notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') };

const root = issue({ commonName: 'Test Root', ca: true, key: rootKey, notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') });
const intermediate = issue({ commonName: 'Test Intermediate A', ca: true, key: intermediateKey, issuer: root, ...caValidity });
const leaf = issue({ commonName: 'a.test', names, ca: false, key: leafKey, issuer: intermediate, ...leafValidity });

const leafWithExtraName = issue({ commonName: 'a.test', names: [...names, 'extra.a.test'], ca: false, key: leafKey, issuer: intermediate, ...leafValidity });
const leafThatIsCa = issue({ commonName: 'a.test', names, ca: true, key: leafKey, issuer: intermediate, ...leafValidity });
const selfSignedLeaf = issue({ commonName: 'a.test', names, ca: false, key: leafKey, ...leafValidity });

const siblingIntermediate = issue({ commonName: 'Test Intermediate B', ca: true, key: strangerKey, issuer: root, ...caValidity });
const impostorIntermediate = issue({ commonName: 'Test Intermediate A', ca: true, key: strangerKey, issuer: root, ...caValidity });
const leafOfImpostor = issue({ commonName: 'a.test', names, ca: false, key: leafKey, issuer: impostorIntermediate, ...leafValidity });

const otherRoot = issue({ commonName: 'Other Root', ca: true, key: strangerKey, notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') });
const otherCaIntermediate = issue({ commonName: 'Other Intermediate', ca: true, key: intermediateKey, issuer: otherRoot, ...caValidity });
const leafOfOtherCa = issue({ commonName: 'a.test', names, ca: false, key: leafKey, issuer: otherCaIntermediate, ...leafValidity });

const notCaIntermediate = issue({ commonName: 'Not A CA', ca: false, keyCertSign: true, key: intermediateKey, issuer: root, ...caValidity });
const leafOfNotCa = issue({ commonName: 'a.test', names, ca: false, key: leafKey, issuer: notCaIntermediate, ...leafValidity });

const expiredIntermediate = issue({ commonName: 'Expired Intermediate', ca: true, key: intermediateKey, issuer: root, notBefore: caValidity.notBefore, notAfter: new Date('2026-01-15T00:00:00Z') });
const leafOfExpiredIntermediate = issue({ commonName: 'a.test', names, ca: false, key: leafKey, issuer: expiredIntermediate, ...leafValidity });

const expiredRoot = issue({ commonName: 'Expired Root', ca: true, key: rootKey, notBefore: new Date('2010-01-01T00:00:00Z'), notAfter: new Date('2026-01-10T00:00:00Z') });
const intermediateOfExpiredRoot = issue({ commonName: 'Intermediate Of Expired Root', ca: true, key: intermediateKey, issuer: expiredRoot, ...caValidity });
const leafOfExpiredRoot = issue({ commonName: 'a.test', names, ca: false, key: leafKey, issuer: intermediateOfExpiredRoot, ...leafValidity });

// Let's Encrypt's shape: an intermediate under Root X2, and X2 cross-signed by X1, sent in the chain.
const rootX1 = issue({ commonName: 'Root X1', ca: true, key: rootKey, notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') });
const rootX2Key = newKey();
const rootX2 = issue({ commonName: 'Root X2', ca: true, key: rootX2Key, notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') });
const rootX2CrossSigned = issue({ commonName: 'Root X2', ca: true, key: rootX2Key, issuer: rootX1, ...caValidity });
const intermediateUnderX2 = issue({ commonName: 'Intermediate E', ca: true, key: intermediateKey, issuer: rootX2, ...caValidity });
const leafUnderX2 = issue({ commonName: 'a.test', names, ca: false, key: leafKey, issuer: intermediateUnderX2, ...leafValidity });
const crossSignedChain = chainPem(leafUnderX2, intermediateUnderX2, rootX2CrossSigned);

const clientOnlyLeaf = issue({ commonName: 'a.test', names, ca: false, key: leafKey, issuer: intermediate, extKeyUsage: { clientAuth: true }, ...leafValidity });
const serverAuthLeaf = issue({ commonName: 'a.test', names, ca: false, key: leafKey, issuer: intermediate, extKeyUsage: { serverAuth: true, clientAuth: true }, ...leafValidity });

const garbageCertificate = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n';

/** A valid input: the leaf and its intermediate, the leaf's key, exact names, the test root, mid-validity. */
function validInput(): VerificationInput {
  return { chainPem: chainPem(leaf, intermediate), key: leafKey.object, names, namesMatch: 'exact', trustedRoots: [root.pem], now, skewAllowanceMs: 0 };
}

const accepted: { name: string; change: Partial<VerificationInput> }[] = [
  { name: 'accepts a leaf and its intermediate, exact names', change: {} },
  { name: 'accepts a leaf and its intermediate, included names', change: { namesMatch: 'include' } },
  { name: 'accepts names given in another order', change: { names: ['www.a.test', 'a.test'] } },
  { name: 'accepts a subset of the names in include mode', change: { names: ['a.test'], namesMatch: 'include' } },
  { name: 'accepts an extra name in include mode', change: { chainPem: chainPem(leafWithExtraName, intermediate), namesMatch: 'include' } },
  { name: 'accepts the public half of the domain key', change: { key: createPublicKey(leafKey.object) } },
  { name: 'accepts a chain that includes the trusted root', change: { chainPem: chainPem(leaf, intermediate, root) } },
  { name: 'accepts a chain carrying a cross-sign of the trusted root (only X2 trusted)', change: { chainPem: crossSignedChain, trustedRoots: [rootX2.pem] } },
  { name: 'accepts the same cross-signed chain when only X1 is trusted', change: { chainPem: crossSignedChain, trustedRoots: [rootX1.pem] } },
  { name: 'accepts a path to the trusted root followed by an unrelated extra certificate', change: { chainPem: chainPem(leaf, intermediate, otherRoot) } },
  { name: 'accepts a leaf whose extended key usage includes serverAuth', change: { chainPem: chainPem(serverAuthLeaf, intermediate) } },
  { name: 'accepts a chain when one of several trusted roots signed it', change: { trustedRoots: [otherRoot.pem, root.pem] } },
  { name: 'accepts a leaf on its first valid second', change: { now: leafValidity.notBefore } },
  { name: 'accepts a leaf starting 59 minutes after this clock, within the clock skew allowed', change: { now: new Date('2025-12-31T23:01:00Z'), skewAllowanceMs: 3_600_000 } },
  { name: 'accepts a leaf one second before it expires', change: { now: new Date(leafValidity.notAfter.getTime() - 1000) } },
];

for (const { name, change } of accepted) {
  test(name, () => {
    const input = { ...validInput(), ...change };

    const facts = verifyCertificate(input);

    assert.equal(facts.publicKeySha256, keySha256(leafKey.object));
    assert.deepEqual(facts.notAfter, leafValidity.notAfter);
  });
}

const rejected: { name: string; change: Partial<VerificationInput>; reason: string }[] = [
  { name: 'rejects a leaf whose extended key usage leaves out serverAuth', change: { chainPem: chainPem(clientOnlyLeaf, intermediate) }, reason: 'leaf certificate is not for TLS servers (no serverAuth extended key usage)' },
  { name: 'rejects a certificate for another key', change: { key: strangerKey.object }, reason: 'certificate public key does not match the domain key' },
  { name: 'rejects a certificate missing a configured name', change: { names: [...names, 'shop.a.test'] }, reason: 'certificate does not cover shop.a.test' },
  { name: 'rejects a certificate missing a name in include mode', change: { names: [...names, 'shop.a.test'], namesMatch: 'include' }, reason: 'certificate does not cover shop.a.test' },
  { name: 'rejects an extra name in exact mode', change: { chainPem: chainPem(leafWithExtraName, intermediate) }, reason: 'certificate covers names that were not asked for: extra.a.test' },
  { name: 'rejects a leaf at the instant it expires', change: { now: leafValidity.notAfter }, reason: 'leaf certificate has expired (notAfter 2026-04-01T00:00:00.000Z)' },
  { name: 'rejects a leaf that is not valid yet', change: { now: new Date('2025-12-31T23:59:59Z') }, reason: 'leaf certificate is not valid yet (notBefore 2026-01-01T00:00:00.000Z, 0 min after this clock\'s now, more than the 0 min allowed for clock skew)' },
  { name: 'rejects a leaf starting further ahead than the clock skew allowed', change: { now: new Date('2025-12-31T22:59:00Z'), skewAllowanceMs: 3_600_000 }, reason: 'leaf certificate is not valid yet (notBefore 2026-01-01T00:00:00.000Z, 61 min after this clock\'s now, more than the 60 min allowed for clock skew)' },
  { name: 'rejects a leaf that is a CA certificate', change: { chainPem: chainPem(leafThatIsCa, intermediate) }, reason: 'leaf certificate is a CA certificate' },
  { name: 'rejects a chain whose intermediate did not sign the leaf', change: { chainPem: chainPem(leaf, siblingIntermediate) }, reason: 'leaf certificate is not signed by chain certificate 1 (broken chain)' },
  { name: "rejects a leaf signed by another key under the intermediate's name", change: { chainPem: chainPem(leafOfImpostor, intermediate) }, reason: 'leaf certificate is not signed by chain certificate 1 (broken chain)' },
  { name: 'rejects a chain that ends in a root nobody trusts, even when the chain carries that root', change: { chainPem: chainPem(leafOfOtherCa, otherCaIntermediate, otherRoot) }, reason: 'chain certificate 2 is not signed by a trusted root (issuer: CN=Other Root)' },
  { name: 'rejects a chain through an intermediate of an untrusted CA', change: { chainPem: chainPem(leafOfOtherCa, otherCaIntermediate) }, reason: 'chain certificate 1 is not signed by a trusted root (issuer: CN=Other Root)' },
  { name: 'rejects a valid chain under the wrong trusted root', change: { trustedRoots: [otherRoot.pem] }, reason: 'chain certificate 1 is not signed by a trusted root (issuer: CN=Test Root)' },
  { name: 'rejects a leaf without its intermediate', change: { chainPem: chainPem(leaf) }, reason: 'leaf certificate is not signed by a trusted root (issuer: CN=Test Intermediate A)' },
  { name: 'rejects a self-signed leaf', change: { chainPem: chainPem(selfSignedLeaf) }, reason: 'leaf certificate is not signed by a trusted root' },
  { name: 'rejects an intermediate that is not a CA', change: { chainPem: chainPem(leafOfNotCa, notCaIntermediate) }, reason: 'chain certificate 1 is not a CA certificate' },
  { name: 'rejects an expired intermediate', change: { chainPem: chainPem(leafOfExpiredIntermediate, expiredIntermediate) }, reason: 'chain certificate 1 has expired' },
  { name: 'rejects a chain under an expired trusted root', change: { chainPem: chainPem(leafOfExpiredRoot, intermediateOfExpiredRoot), trustedRoots: [expiredRoot.pem] }, reason: 'trusted root has expired' },
  { name: 'rejects when no trusted root is configured', change: { trustedRoots: [] }, reason: 'no trusted root configured' },
  { name: 'rejects a trusted root that is not a certificate', change: { trustedRoots: ['not a certificate'] }, reason: 'trusted root 1 is not a readable X.509 certificate' },
  { name: 'rejects a garbage leaf PEM block', change: { chainPem: garbageCertificate }, reason: 'leaf certificate is not a readable X.509 certificate' },
  { name: 'rejects a garbage intermediate PEM block', change: { chainPem: chainPem(leaf) + garbageCertificate }, reason: 'chain certificate 1 is not a readable X.509 certificate' },
  { name: 'rejects text without a PEM block', change: { chainPem: 'hello, I am a certificate' }, reason: 'no certificate in the PEM text' },
  { name: 'rejects empty text', change: { chainPem: '' }, reason: 'no certificate in the PEM text' },
];

for (const { name, change, reason } of rejected) {
  test(name, () => {
    const input = { ...validInput(), ...change };

    const verify = () => verifyCertificate(input);

    assert.throws(verify, (error: unknown) => {
      assert.ok(error instanceof VerificationError, `expected a VerificationError, got ${String(error)}`);
      assert.ok(error.reason.includes(reason), `reason "${error.reason}" does not include "${reason}"`);
      return true;
    });
  });
}
