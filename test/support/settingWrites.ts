// The four rules whose service setting a write takes away and a later one gives back, carried across a delete
// (revision.ts settingRestored): ingress-opened, iap-disabled, default-url-enabled, binary-authorization-bypass. For
// each, a write at a time that sets the rule's risk or ends it, as the late-delivery tests deliver them in every order;
// and what those tests read of the findings at the end.
import type { Finding } from '../../functions/findings/finding.js';
import { at, editV1Services, synthetic, withOperationId, type Json } from './entries.js';

type Obj = Record<string, any>;

/** The gcloud v1 ReplaceService fixture (SLACK_BOT) at `time`, a new image each time (a new revision), its own operation, with the service's `annotations`. */
export function settingDeploy(time: string, annotations: Readonly<Record<string, string>>): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const meta = svc['metadata'] as Record<string, Record<string, string>>;
    meta['annotations'] = { ...meta['annotations'], ...annotations };
    const template = (svc['spec'] as Obj)['template'] as Obj;
    template['spec']['containers'] = [{ name: 'app', image: `gcr.io/acme/app:${time.slice(11, 16).replace(':', '')}`, env: [] }];
  });
  return at(withOperationId(entry, `op-${time}`), time);
}

/** A write at `time` that sets the rule's risk (`risky`) or ends it. */
export type SettingWrite = (time: string, risky: boolean) => Json;

export const SETTING_WRITES = {
  'ingress-opened': (time, risky) => settingDeploy(time, { 'run.googleapis.com/ingress': risky ? 'all' : 'internal' }),
  'iap-disabled': (time, risky) => settingDeploy(time, { 'run.googleapis.com/iap-enabled': String(!risky) }),
  'default-url-enabled': (time, risky) => settingDeploy(time, { 'run.googleapis.com/default-url-disabled': String(!risky) }),
  'binary-authorization-bypass': (time, risky) => settingDeploy(time, risky ? {} : { 'run.googleapis.com/binary-authorization': 'default' }),
} as const satisfies Readonly<Record<string, SettingWrite>>;

export type SettingRule = keyof typeof SETTING_WRITES;

/** The four rules, in the order above. */
export const SETTING_RULES = Object.keys(SETTING_WRITES) as SettingRule[];

/** HH:MM of a timestamp: the histories these tests build are a few writes minutes apart on one day. */
export const hhmm = (time: string): string => time.slice(11, 16);

/** Each finding of `rule` as it stands at the end (its last version), by eventTime (HH:MM). */
export function lastVersions(findings: readonly Finding[], rule: string): Map<string, Finding> {
  const last = new Map<string, Finding>();
  for (const f of findings) if (f.rule === rule) last.set(f.id, f);
  return new Map([...last.values()].map((f) => [hhmm(f.eventTime), f]));
}

/** The eventTimes (HH:MM) of the rule's findings active at the end. */
export function activeAtEnd(findings: readonly Finding[], rule: string): string[] {
  return [...lastVersions(findings, rule).entries()].filter(([, f]) => (f.status ?? 'active') === 'active').map(([time]) => time).sort();
}
