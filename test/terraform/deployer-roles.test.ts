// The module README's "Roles of the identity that applies" table is what a team grants its deployer (a CI service
// account). Each resource the module creates outside what the table already covers must have a role there that
// holds the permission its creation calls, at the level it is created, named together with the setting that makes
// the module create it: otherwise the first apply of a deployer holding exactly the listed roles fails with 403.
// Permissions of the predefined roles are those of the IAM roles reference (cloud.google.com/iam/docs/roles-permissions).
import { convertFiles } from '@cdktn/hcl2json';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const MODULE_DIR = fileURLToPath(new URL('../../terraform/modules/runwatch/', import.meta.url));

type Block = Record<string, unknown>;

interface Need {
  /** The resource of the module whose creation needs the permission. */
  readonly resource: readonly [type: string, name: string];
  /** What the resource's count (or its scope field) must mention: the setting that makes the module create it there. */
  readonly setting?: string;
  /** The level it is created at, and where the table must say so (matched against the "Where" cell). */
  readonly level: string;
  readonly where: RegExp;
  /** The permission its creation calls, and the predefined roles (of those a deployer is given) that hold it. */
  readonly permission: string;
  readonly roles: readonly string[];
}

const NEEDS: readonly Need[] = [
  {
    // log_sink_project_id defaults to project_id: the project example (and any project sink of the runwatch project).
    resource: ['google_logging_project_sink', 'audit'],
    level: 'project_id (a project sink without log_sink_project_id)',
    where: /`project_id`/,
    permission: 'logging.sinks.create',
    roles: ['roles/logging.configWriter', 'roles/logging.admin'],
  },
  {
    resource: ['google_organization_iam_member', 'detect_run_viewer'],
    setting: 'admin_api_fallback',
    level: 'the organization',
    where: /organization/,
    permission: 'resourcemanager.organizations.setIamPolicy',
    roles: ['roles/resourcemanager.organizationAdmin', 'roles/iam.securityAdmin'],
  },
  {
    resource: ['google_folder_iam_member', 'detect_run_viewer'],
    setting: 'admin_api_fallback',
    level: 'the folder',
    where: /folder/,
    permission: 'resourcemanager.folders.setIamPolicy',
    roles: ['roles/resourcemanager.folderIamAdmin', 'roles/resourcemanager.folderAdmin', 'roles/iam.securityAdmin'],
  },
  {
    resource: ['google_project_iam_member', 'detect_run_viewer'],
    setting: 'admin_api_fallback',
    level: 'the project watched (log_sink_project_id)',
    where: /project watched/,
    permission: 'resourcemanager.projects.setIamPolicy',
    roles: ['roles/resourcemanager.projectIamAdmin', 'roles/iam.securityAdmin'],
  },
  {
    // Alert policies live in project_id; Google's Terraform how-to for them names Monitoring Editor
    // (cloud.google.com/monitoring/alerts/terraform).
    resource: ['google_monitoring_alert_policy', 'dead_letter_hold'],
    setting: 'alert_notification_channels',
    level: 'project_id (with alert_notification_channels)',
    where: /`project_id`/,
    permission: 'monitoring.alertPolicies.create',
    roles: ['roles/monitoring.editor', 'roles/monitoring.alertPolicyEditor'],
  },
  {
    // The log-based metric the sink-quiet alert watches lives in project_id, whatever the sink's scope: an organization
    // sink's deployer holds roles/logging.configWriter on the organization, not necessarily in project_id.
    resource: ['google_logging_metric', 'entries_received'],
    setting: 'alert_notification_channels',
    level: 'project_id (with alert_notification_channels)',
    where: /`project_id`/,
    permission: 'logging.logMetrics.create',
    roles: ['roles/logging.configWriter', 'roles/logging.admin'],
  },
];

/** The rows of the README table: the "Where" cell and the "Roles" cell. */
function deployerRows(readme: string): Array<{ where: string; roles: string }> {
  const start = readme.indexOf('Roles of the identity that applies');
  expect(start).toBeGreaterThan(-1);
  const section = readme.slice(start, readme.indexOf('\n## ', start));
  return section
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| Where') && !/^\|-/.test(line))
    .map((line) => {
      const cells = line.split('|').map((c) => c.trim());
      return { where: cells[1] ?? '', roles: cells.slice(2).join('|') };
    });
}

let tf: Block;
const readme = readFileSync(join(MODULE_DIR, 'README.md'), 'utf8');

beforeAll(async () => {
  tf = (await convertFiles(MODULE_DIR)) as Block;
});

describe('the module README lists every role the deploying identity needs', () => {
  it.each(NEEDS)('$permission on $level, for $resource', (need) => {
    const [type, name] = need.resource;
    const body = ((tf['resource'] as Record<string, Record<string, Block[]>>)[type]?.[name] ?? [])[0];
    expect(body, `${type}.${name} is in the module`).toBeDefined();
    if (need.setting) expect(String(body!['count']), `${type}.${name} is created with ${need.setting}`).toContain(`var.${need.setting}`);

    const rows = deployerRows(readme).filter((r) => need.where.test(r.where) && need.roles.some((role) => r.roles.includes(`\`${role}\``)));
    expect(rows.map((r) => r.where), `a row for ${need.level} with one of ${need.roles.join(', ')}`).not.toEqual([]);
    if (need.setting) {
      // Named with the setting that needs it: a role the table gives only for another setting is not granted for this one.
      expect(
        rows.filter((r) => r.roles.includes(need.setting!)).map((r) => r.where),
        `the row for ${need.level} says ${need.setting} needs one of ${need.roles.join(', ')}`,
      ).not.toEqual([]);
    }
  });
});
