// Folds one change into a service baseline. Pure: the stores call it inside their transactions.
import { describeServiceAccount, type Change } from '../model/change.js';
import { publicInvokerMembers } from '../model/iam.js';
import { emptyBaseline, record, valueBefore, type ServiceBaseline } from './state.js';

export function applyChange(current: ServiceBaseline | undefined, change: Change): ServiceBaseline {
  const base = current ?? emptyBaseline();
  const t = change.timeMs;
  if (base.deletedAtMs !== undefined && t < base.deletedAtMs) return base; // a late entry about the old service
  switch (change.kind) {
    case 'delete':
      return { ...emptyBaseline(), lastChangeMs: Math.max(base.lastChangeMs, t), deletedAtMs: t };
    case 'deploy': {
      let repositories = base.repositories;
      for (const image of change.images) {
        const first = repositories[image.repository];
        if (first === undefined || t < first) {
          if (repositories === base.repositories) repositories = { ...base.repositories };
          (repositories as Record<string, number>)[image.repository] = t;
        }
      }
      // One new object per change (replay applies millions); unchanged histories are shared, never mutated.
      return {
        ...base,
        lastChangeMs: Math.max(base.lastChangeMs, t),
        serviceAccount: change.serviceAccount ? record(base.serviceAccount, t, describeServiceAccount(change.serviceAccount)) : base.serviceAccount,
        template: change.templateFingerprint ? record(base.template, t, change.templateFingerprint) : base.template,
        repositories,
        invokerIamDisabled: change.invokerIamDisabled !== undefined ? record(base.invokerIamDisabled, t, change.invokerIamDisabled) : base.invokerIamDisabled,
        ingress: change.ingress ? record(base.ingress, t, change.ingress) : base.ingress,
      };
    }
    case 'iam-policy': {
      const after = publicInvokersAfter(base, change);
      if (after === undefined) return base;
      return { ...base, lastChangeMs: Math.max(base.lastChangeMs, t), publicInvokers: record(base.publicInvokers, t, after) };
    }
  }
}

/** Public invoker members after an IAM change: the full policy when logged, else the delta over what was known. */
export function publicInvokersAfter(base: ServiceBaseline | undefined, change: Extract<Change, { kind: 'iam-policy' }>): string[] | undefined {
  if (change.policy) return publicInvokerMembers(change.policy);
  if (!change.delta) return undefined;
  const members = new Set(valueBefore(base?.publicInvokers, change.timeMs) ?? []);
  for (const m of publicInvokerMembers(change.delta.removed)) members.delete(m);
  for (const m of publicInvokerMembers(change.delta.added)) members.add(m);
  return [...members].sort();
}
