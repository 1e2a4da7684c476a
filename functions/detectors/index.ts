// The registry: every rule runwatch has. The engine, the sink filter and the docs walk this list; adding a rule is
// one file and one line here.
import type { RulesConfig } from '../config/types.js';
import { binaryAuthorizationBypass } from './binary-authorization-bypass.js';
import { codeLoadingEnv } from './code-loading-env.js';
import { defaultUrlEnabled } from './default-url-enabled.js';
import { externalMemberGrant } from './external-member-grant.js';
import { iapDisabled } from './iap-disabled.js';
import { ingressOpened } from './ingress-opened.js';
import { jobRunOverrides } from './job-run-overrides.js';
import { plaintextSecretEnv } from './plaintext-secret-env.js';
import { newImageRepository } from './new-image-repository.js';
import { offWindowDeploy } from './off-window-deploy.js';
import { publicInvokerAttempt } from './public-invoker-attempt.js';
import { publicInvokerGrant } from './public-invoker-grant.js';
import { serviceAccountChange } from './service-account-change.js';
import { unapprovedDeployer } from './unapproved-deployer.js';
import { vpcEgressBypass } from './vpc-egress-bypass.js';
import type { Detector } from './types.js';

export const detectors = {
  'off-window-deploy': offWindowDeploy,
  'service-account-change': serviceAccountChange,
  'new-image-repository': newImageRepository,
  'public-invoker-grant': publicInvokerGrant,
  'binary-authorization-bypass': binaryAuthorizationBypass,
  'ingress-opened': ingressOpened,
  'plaintext-secret-env': plaintextSecretEnv,
  'unapproved-deployer': unapprovedDeployer,
  'vpc-egress-bypass': vpcEgressBypass,
  'public-invoker-attempt': publicInvokerAttempt,
  'job-run-overrides': jobRunOverrides,
  'iap-disabled': iapDisabled,
  'default-url-enabled': defaultUrlEnabled,
  'code-loading-env': codeLoadingEnv,
  'external-member-grant': externalMemberGrant,
} as const satisfies { readonly [Id in keyof RulesConfig]: Detector<Id> };

export type RuleId = keyof typeof detectors;

export const RULE_IDS = Object.keys(detectors) as RuleId[];
