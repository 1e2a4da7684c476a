// The replay table's SERVICE cell is `project/service` in 36 columns. Cut at its end, a long pair lost the service's
// own name, the part a reader looks for (`test-project-1234/cloud-run-slack-b…`); the project is cut from its start
// instead, so the name stays whole where it fits.
import { describe, expect, it } from 'vitest';
import { formatTable } from '../../functions/replay/format.js';
import { makeFinding } from '../support/findings.js';

/** The SERVICE cell of the table's one row, trimmed. */
function serviceCell(project: string, service: string, resourceType?: 'job'): string {
  const finding = makeFinding('off-window-deploy', { project, service }, resourceType ? { resourceType } : {});
  const [header, row] = formatTable([finding]).split('\n') as [string, string];
  const start = header.indexOf('SERVICE');
  return row.slice(start, header.indexOf('REVISION')).trimEnd();
}

describe('the replay table SERVICE cell', () => {
  it.each([
    ['fits: as it is', 'acme-prod', 'storefront', undefined, 'acme-prod/storefront'],
    ['too long: the project cut from its start, the service whole', 'test-project-1234', 'cloud-run-slack-bot', undefined, '…st-project-1234/cloud-run-slack-bot'],
    ['a job: its noun kept', 'western-verve-123456', 'nightly-export', 'job' as const, 'job …ern-verve-123456/nightly-export'],
    ['a service name too long to keep whole: cut at its end', 'acme-prod', 'a-service-name-far-longer-than-the-column', undefined, 'acme-prod/a-service-name-far-longer…'],
    // Measured as the terminal shows it: each bidi override is shown as its escape, six columns (it measured none).
    ['a name whose escapes make it too long: the project cut, the name whole', 'acme-prod', 'web\u202e\u202e\u202e\u202eapp', undefined, '…prod/web\\u202e\\u202e\\u202e\\u202eapp'],
  ])('%s', (_name, project, service, resourceType, expected) => {
    expect(serviceCell(project, service, resourceType)).toBe(expected);
  });
});
