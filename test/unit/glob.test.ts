import { describe, expect, it } from 'vitest';
import { globMatcher, globMatches, principalMatches } from '../../functions/config/glob.js';

describe('config globs', () => {
  it.each([
    ['acme-prod/*', 'acme-prod/api', true],
    ['acme-prod/*', 'acme-prod/a/b', false],
    ['acme-*/public-*', 'acme-dev/public-site', true],
    ['europe-west1-docker.pkg.dev/*/*', 'europe-west1-docker.pkg.dev/acme/web', true],
    ['europe-west1-docker.pkg.dev/*/*', 'europe-west1-docker.pkg.dev/acme/web/team', false],
    ['europe-west1-docker.pkg.dev/**', 'europe-west1-docker.pkg.dev/acme/web/team', true],
    ['*@acme.iam.gserviceaccount.com', 'deployer@acme.iam.gserviceaccount.com', true],
    ['*', '.hidden', true],
  ])('%s ~ %s -> %s, the same answer when asked again', (glob, value, expected) => {
    expect(globMatches(glob, value)).toBe(expected);
    expect(globMatches(glob, value)).toBe(expected);
    const list = globMatcher([glob]);
    expect(list(value)).toBe(expected);
    expect(list(value)).toBe(expected);
  });

  it('a list matches when any glob does; an empty list matches nothing', () => {
    const match = globMatcher(['gcr.io/acme', 'us-docker.pkg.dev/acme/*']);
    expect(['gcr.io/acme', 'us-docker.pkg.dev/acme/prod', 'docker.io/library'].map(match)).toEqual([true, true, false]);
    expect(globMatcher([])('anything')).toBe(false);
  });

  it('answers stay right past the memo limit', () => {
    const match = globMatcher(['svc-*']);
    for (let i = 0; i < 25_000; i++) expect(match(i % 2 === 0 ? `svc-${i}` : `other-${i}`)).toBe(i % 2 === 0);
  });
});

describe('principal globs', () => {
  const sa = 'ci-deployer@acme-ci.iam.gserviceaccount.com';
  it.each([
    ['the same email', sa, sa, true],
    ['a member prefix on the glob', `serviceAccount:${sa}`, sa, true],
    ['a member prefix on the principal (principalSubject)', 'alice@acme.com', 'user:alice@acme.com', true],
    ['other letters', 'Alice@ACME.com', 'alice@acme.com', true],
    ['a wildcard of the kind: a service account', 'serviceAccount:*', sa, true],
    ['a wildcard of the kind: not a user', 'user:*', sa, false],
    ['a user wildcard: a user', 'user:*', 'alice@acme.com', true],
    ['a service account wildcard: not a user', 'serviceAccount:*@acme.com', 'alice@acme.com', false],
    ['a group never names the principal of a call', 'group:*', 'alice@acme.com', false],
    ['no prefix: any kind', '*@acme.com', 'user:alice@acme.com', true],
    // Workload identity federation names an external identity, not a Google user: user: never covers it.
    ['a user wildcard: not a federated identity', 'user:**', 'principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/subject/repo:acme/app:ref:refs/heads/main', false],
    ['a user wildcard: not a federated identity set', 'user:**', 'principalSet://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/attribute.repository/acme/app', false],
    ['a service account wildcard: not a federated identity', 'serviceAccount:**', 'principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/subject/repo:acme/app:ref:refs/heads/main', false],
    ['a federated identity by its pool', 'principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/**', 'principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/subject/repo:acme/app:ref:refs/heads/main', true],
    ['no prefix, **: a federated identity too', '**', 'principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/subject/repo:acme/app:ref:refs/heads/main', true],
  ])('%s', (_name, glob, principal, expected) => {
    expect(principalMatches(glob, principal)).toBe(expected);
  });
});
