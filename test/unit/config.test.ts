import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config/load.js';
import { configProblems } from '../support/config.js';
import { RULE_IDS } from '../../functions/detectors/index.js';

const problems = (text: string): string[] => configProblems(text);

describe('config', () => {
  it('an empty file is the defaults', () => {
    const config = parseConfig('', 'empty.yaml');
    expect(config).toMatchObject({
      timezone: 'UTC',
      changeWindows: [],
      freezes: [],
      provenanceLabels: { commit: expect.arrayContaining(['commit-sha']), pipeline: expect.arrayContaining(['gcb-build-id']) },
      rules: { 'new-image-repository': { enabled: true, trustedRepositories: [], exceptions: [] } },
    });
    expect(Object.isFrozen(config.rules)).toBe(true);
  });

  it('YAML and JSON give the same config', () => {
    const yaml = parseConfig('timezone: Europe/Berlin\nchangeWindows:\n  - {days: [mon], start: "09:00", end: "17:00"}\n');
    const json = parseConfig('{"timezone":"Europe/Berlin","changeWindows":[{"days":["mon"],"start":"09:00","end":"17:00"}]}');
    expect(yaml).toEqual(json);
  });

  it('reports every problem at once, each as path: reason', () => {
    const found = problems(`
timezone: 5
changeWindows:
  - days: [monday]
    start: "25:00"
rules:
  off-window-deploy:
    enabled: "yes"
    exceptions:
      - reason: nothing to match
  new-image-repository:
    trustedRepository: [gcr.io/acme]
  made-up-rule: {}
sinks:
  slack: {minSeverity: URGENT}
surprise: true
`);
    expect(found).toEqual(
      expect.arrayContaining([
        'timezone: must be string',
        'changeWindows[0].end: is required',
        'changeWindows[0].days[0]: must be one of mon, tue, wed, thu, fri, sat, sun; did you mean mon?',
        expect.stringMatching(/^changeWindows\[0\]\.start: "25:00" is not a time of day as HH:MM/),
        'rules.off-window-deploy.enabled: must be boolean',
        'rules.off-window-deploy.exceptions[0]: needs at least one of principal, project, service',
        'rules.new-image-repository.trustedRepository: unknown key; did you mean trustedRepositories?',
        `rules.made-up-rule: unknown rule; the rules are ${RULE_IDS.join(', ')}`,
        'sinks.slack.minSeverity: must be one of LOW, MEDIUM, HIGH, CRITICAL',
        'sinks.slack: no channel: set channel (the default), or channelsBySeverity / channelsByRule',
        'surprise: unknown key',
      ]),
    );
    expect(found).toHaveLength(11);
  });

  it.each([
    ['an unknown time zone', 'timezone: Mars/Olympus', 'timezone: "Mars/Olympus" is not an IANA time zone'],
    // A value of a list in another case, or one letter off, says which one was meant.
    ['a severity in lower case', 'rules: {off-window-deploy: {severity: high}}', 'rules.off-window-deploy.severity: must be one of LOW, MEDIUM, HIGH, CRITICAL; did you mean HIGH?'],
    ['a day written whole', 'changeWindows: [{days: [Monday], start: "09:00", end: "17:00"}]', 'changeWindows[0].days[0]: must be one of mon, tue, wed, thu, fri, sat, sun; did you mean mon?'],
    ['a severity misspelt', 'sinks: {slack: {minSeverity: CRITCAL, channel: "#sec"}}', 'sinks.slack.minSeverity: must be one of LOW, MEDIUM, HIGH, CRITICAL; did you mean CRITICAL?'],
    ['a value near none of them', 'sinks: {slack: {minSeverity: URGENT, channel: "#sec"}}', 'sinks.slack.minSeverity: must be one of LOW, MEDIUM, HIGH, CRITICAL'],
    ['a freeze that ends before it starts', 'freezes: [{start: "2024-12-24T00:00:00Z", end: "2024-12-20T00:00:00Z"}]', 'freezes[0]: end must be after start'],
    ['an empty window', 'changeWindows: [{days: [mon], start: "09:00", end: "09:00"}]', 'changeWindows[0]: start and end are equal: an empty window'],
    ['YAML that does not parse', 'rules: [unclosed', expect.stringMatching(/^\(root\): not valid YAML or JSON/)],
    ['a duplicate key', 'timezone: UTC\ntimezone: UTC', expect.stringMatching(/^timezone: not valid YAML or JSON: Map keys must be unique/)],
    ['a freeze date in another format', 'freezes: [{start: "20.12.2024", end: "2025-01-06"}]', expect.stringMatching(/^freezes\[0\]\.start: "20\.12\.2024" is not an ISO 8601 date \(YYYY-MM-DD/)],
    // Worded as replay's --since says it, not in Luxon's terms ("you specified 30 (of type number) as a day"): the user wrote a string.
    ['a freeze date that does not exist', 'freezes: [{start: "2024-02-30", end: "2024-03-06"}]', 'freezes[0].start: no such day or time: "2024-02-30"'],
  ])('rejects %s', (_name, text, expected) => {
    expect(problems(text)).toEqual([expected]);
  });

  // A misspelt key was only "unknown": the nearest key the schema allows at that place is named (a few edits away).
  it.each([
    ['a rule id one letter off', 'rules: {off-window-deploys: {enabled: false}}', 'rules.off-window-deploys: unknown key; did you mean off-window-deploy?'],
    ['snake case for camel case', 'change_windows: []', 'change_windows: unknown key; did you mean changeWindows?'],
    ['a letter in the wrong case', 'sinks: {slack: {minseverity: HIGH}}', 'sinks.slack.minseverity: unknown key; did you mean minSeverity?'],
    ['a sink misspelt', 'sinks: {pagerduty: {}, slak: {}}', 'sinks.slak: unknown key; did you mean slack?'],
    ['nothing near', 'surprise: true', 'surprise: unknown key'],
    ['a short key far from all', 'tz: UTC', 'tz: unknown key'],
    // The same words in another case or with other separators, however many edits away: offWindowDeploy was only "unknown".
    ['a rule id in camel case', 'rules: {offWindowDeploy: {enabled: false}}', 'rules.offWindowDeploy: unknown key; did you mean off-window-deploy?'],
    ['a rule id in snake case with capitals', 'rules: {PUBLIC_INVOKER_GRANT: {}}', 'rules.PUBLIC_INVOKER_GRANT: unknown key; did you mean public-invoker-grant?'],
    ['a camel-case key in kebab case', 'change-windows: []', 'change-windows: unknown key; did you mean changeWindows?'],
    // A rule id near none: the rule ids, as sinks.*.rules lists them, not a bare "unknown key".
    ['a rule id near none', 'rules: {public-invoker: {}}', `rules.public-invoker: unknown rule; the rules are ${RULE_IDS.join(', ')}`],
  ])('names the key meant: %s', (_name, text, expected) => {
    expect(problems(text)).toEqual([expected]);
  });

  // Checks beyond the schema (zones, dates, empty windows) run even when the schema found problems elsewhere.
  it.each([
    ['a bad window time and an unknown zone', 'timezone: Mars/Olympus\nchangeWindows: [{days: [mon], start: "9:00", end: "17:00"}]', [expect.stringMatching(/^changeWindows\[0\]\.start: "9:00" is not a time of day as HH:MM/), 'timezone: "Mars/Olympus" is not an IANA time zone']],
    ['an unknown key and an unknown zone', 'timezone: Europe/Berln\nfoo: 1', ['foo: unknown key', 'timezone: "Europe/Berln" is not an IANA time zone; did you mean Europe/Berlin?']],
    ['an unknown key and an impossible freeze date', 'foo: 1\nfreezes: [{start: "2024-13-45T10:00", end: "2024-12-20T00:00"}]', ['foo: unknown key', 'freezes[0].start: no such day or time: "2024-13-45T10:00"']],
    ['a zone of the wrong type: reported once, by the schema', 'timezone: 5', ['timezone: must be string']],
  ])('reports schema and other problems together: %s', (_name, text, expected) => {
    expect(problems(text)).toEqual(expected);
  });

  // provenanceLabels values are a label name or a list of them (a oneOf): one reason per bad value, at its path.
  it.each([
    ['a number', 'provenanceLabels: {commit: 5}', ['provenanceLabels.commit: must be string or array']],
    ['a map', 'provenanceLabels: {pipeline: {a: 1}}', ['provenanceLabels.pipeline: must be string or array']],
    ['a list with a number', 'provenanceLabels: {pipeline: [build-id, 3]}', ['provenanceLabels.pipeline[1]: must be string']],
    ['a list with an empty name', 'provenanceLabels: {commit: [sha, ""]}', ['provenanceLabels.commit[1]: must not be empty']],
    ['an empty name', 'provenanceLabels: {commit: ""}', ['provenanceLabels.commit: must not be empty']],
    ['an empty list', 'provenanceLabels: {commit: []}', ['provenanceLabels.commit: must list at least one']],
    ['both keys wrong, each at its own path', 'provenanceLabels: {commit: 5, pipeline: [x, 3]}', ['provenanceLabels.commit: must be string or array', 'provenanceLabels.pipeline[1]: must be string']],
  ])('provenanceLabels as %s: one reason, at the value', (_name, text, expected) => {
    expect(problems(text)).toEqual(expected);
  });

  // A provenance label is read from the revision's and the service's labels, whose keys Google Cloud keeps to lower-case
  // letters, digits, _ and - (a letter first, at most 63): a name written otherwise (GIT_COMMIT, from an environment
  // variable) matched no label, and every finding's commit came out unknown.
  it.each([
    ['a name in capitals', 'provenanceLabels: {commit: GIT_COMMIT}', ['provenanceLabels.commit: "GIT_COMMIT" can match no label: Google Cloud label keys are lower case (write git_commit)']],
    ['a name in a list with a capital', 'provenanceLabels: {pipeline: [build-id, Build-Id]}', ['provenanceLabels.pipeline[1]: "Build-Id" can match no label: Google Cloud label keys are lower case (write build-id)']],
    ['a name with a dot and a slash', 'provenanceLabels: {commit: app.kubernetes.io/version}', ['provenanceLabels.commit: "app.kubernetes.io/version" can match no label: a Google Cloud label key is a lower-case letter, then up to 62 lower-case letters, digits, _ and -']],
    ['a name starting with a digit', 'provenanceLabels: {commit: [commit-sha, 1sha]}', ['provenanceLabels.commit[1]: "1sha" can match no label: a Google Cloud label key is a lower-case letter, then up to 62 lower-case letters, digits, _ and -']],
  ])('rejects a provenance label no label can have: %s', (_name, text, expected) => {
    expect(problems(text)).toEqual(expected);
  });

  it('accepts provenance label names that are label keys (international lower-case letters too)', () => {
    expect(problems('provenanceLabels: {commit: [commit-sha, git_sha, cømmit], pipeline: build-id}')).toEqual([]);
  });

  // ajv's own words ("must NOT have duplicate items (items ## 0 and 1 are identical)", "must NOT have fewer than 1
  // items") are written for schema authors; a config's author reads these.
  it.each([
    ['a day listed twice', 'changeWindows: [{days: [mon, tue, mon], start: "09:00", end: "17:00"}]', ['changeWindows[0].days[2]: "mon" is listed twice (also at changeWindows[0].days[0])']],
    // Every repeat at once, as every other problem is: ajv stops at the first pair it finds (from the end).
    ['two days each listed twice', 'changeWindows: [{days: [mon, tue, mon, tue, mon], start: "09:00", end: "17:00"}]', ['changeWindows[0].days[2]: "mon" is listed twice (also at changeWindows[0].days[0])', 'changeWindows[0].days[3]: "tue" is listed twice (also at changeWindows[0].days[1])', 'changeWindows[0].days[4]: "mon" is listed twice (also at changeWindows[0].days[0])']],
    ['a window with no days', 'changeWindows: [{days: [], start: "09:00", end: "17:00"}]', ['changeWindows[0].days: must list at least one']],
    ['an empty glob', "rules: {new-image-repository: {trustedRepositories: ['']}}", ['rules.new-image-repository.trustedRepositories[0]: must not be empty']],
    ['a reason over 500 characters', `freezes: [{start: "2024-12-20", end: "2025-01-06", reason: "${'x'.repeat(501)}"}]`, ['freezes[0].reason: must be at most 500 characters (it has 501)']],
    ['a window name over 100 characters', `changeWindows: [{name: "${'n'.repeat(120)}", days: [mon], start: "09:00", end: "17:00"}]`, ['changeWindows[0].name: must be at most 100 characters (it has 120)']],
  ])('%s: said in words', (_name, text, expected) => {
    expect(problems(text)).toEqual(expected);
  });

  it('a YAML error ends with its position, not with the colon that introduced an excerpt of the file', () => {
    const [reason] = problems('changeWindows:\n  - days: [mon\n    start: "09:00"\n');
    expect(reason).toMatch(/^\(root\): not valid YAML or JSON: .* at line \d+, column \d+$/);
  });

  // A misspelled rule id in a sink's settings would silently keep that rule's findings out of the sink.
  it.each([
    ['a sink rule list', 'sinks: {slack: {channel: "#sec", rules: [off-window-deploys]}}', 'sinks.slack.rules[0]', '; did you mean off-window-deploy?'],
    ['a Slack channel map', 'sinks: {slack: {channelsByRule: {public-invoker-grnat: "#sec", off-window-deploy: "#ops"}}}', 'sinks.slack.channelsByRule.public-invoker-grnat', '; did you mean public-invoker-grant?'],
    ['a PagerDuty rule list', 'sinks: {pagerduty: {rules: [public-invoker-grant, made-up]}}', 'sinks.pagerduty.rules[1]', ''],
  ])('rejects an unknown rule id in %s, at its path', (_name, text, path, meant) => {
    expect(problems(text)).toEqual([`${path}: must be one of ${RULE_IDS.join(', ')}${meant}`]);
  });

  // picomatch never throws by default: a broken glob became a literal or matched nothing, so an exception or an allowed
  // service silently covered nothing; a service glob without "/" can never match PROJECT/SERVICE.
  it.each([
    ['an unclosed brace', 'rules: {off-window-deploy: {exceptions: [{principal: "{ci,cd@acme.com"}]}}', 'rules.off-window-deploy.exceptions[0].principal', /^not a valid glob: \{ci,cd@acme.com \(Missing closing: "\}"/],
    ['an unclosed bracket', 'rules: {new-image-repository: {trustedRepositories: ["gcr.io/[ab"]}}', 'rules.new-image-repository.trustedRepositories[0]', /^not a valid glob: gcr.io\/\[ab \(Missing closing: "\]"/],
    ['a range written backwards', 'rules: {public-invoker-grant: {allowServices: ["acme/[z-a]"]}}', 'rules.public-invoker-grant.allowServices[0]', /^not a valid glob: acme\/\[z-a\] \(it can match nothing/],
    ['an allowed service without a project', 'rules: {public-invoker-grant: {allowServices: ["public-*"]}}', 'rules.public-invoker-grant.allowServices[0]', /^a service glob is matched against PROJECT\/SERVICE \(such as acme-prod\/public-\* or \*\/public-\*\)/],
    ['an exception service without a project', 'rules: {service-account-change: {exceptions: [{service: "batch-*"}]}}', 'rules.service-account-change.exceptions[0].service', /without a "\/" it can match no service$/],
    // picomatch reads `**` inside a segment as `*`: `acme-**` never crossed the "/" into acme-prod/web.
    ['an allowed service with ** inside a name', 'rules: {public-invoker-grant: {allowServices: ["acme-**"]}}', 'rules.public-invoker-grant.allowServices[0]', /^a service glob is matched against PROJECT\/SERVICE .*: without a "\/" it can match no service \(\*\* crosses "\/" only as a whole path segment, as in acme-\*\/\*\* or \*\*\)$/],
    ['an exception service ending in ** inside a name', 'rules: {service-account-change: {exceptions: [{service: "acme-prod**"}]}}', 'rules.service-account-change.exceptions[0].service', /without a "\/" it can match no service \(\*\* crosses/],
    // PROJECT/SERVICE has one "/": a glob written with the location, or as a finding's resourceName, can match no
    // service either (and so exempted or allowed nothing, silently).
    ['an exception service with its location', 'rules: {off-window-deploy: {exceptions: [{service: "acme-prod/us-central1/storefront"}]}}', 'rules.off-window-deploy.exceptions[0].service', /^a service glob is matched against PROJECT\/SERVICE, one "\/" .*: acme-prod\/us-central1\/storefront has 2 and can match no service$/],
    ['an allowed service written as its resource name', 'rules: {public-invoker-grant: {allowServices: ["//run.googleapis.com/projects/acme-prod/locations/*/services/www"]}}', 'rules.public-invoker-grant.allowServices[0]', /has 8 and can match no service$/],
    // A member prefix is read at the start of a principal glob only: inside alternatives it stays part of the pattern,
    // which no principal (compared without its prefix) can then match.
    ['member prefixes inside alternatives', 'rules: {off-window-deploy: {exceptions: [{principal: "{serviceAccount:ci@acme-ci.iam.gserviceaccount.com,user:alice@acme.com}"}]}}', 'rules.off-window-deploy.exceptions[0].principal', /^a member prefix \(user:, serviceAccount:\) is read only at the start of a principal glob/],
    ['a member prefix in the second of alternatives', 'rules: {unapproved-deployer: {allowedDeployers: ["{ci@acme-ci.iam.gserviceaccount.com, user:alice@acme.com}"]}}', 'rules.unapproved-deployer.allowedDeployers[0]', /^a member prefix .* is read only at the start/],
    // White space a quoted value or a block scalar (|) kept: no PROJECT/SERVICE and no principal has any.
    ['a service with a trailing space', 'rules: {off-window-deploy: {exceptions: [{service: "acme-prod/www "}]}}', 'rules.off-window-deploy.exceptions[0].service', /^"acme-prod\/www " has white space, which no PROJECT\/SERVICE has: it can match no service$/],
    ['an allowed service from a block scalar', 'rules:\n  public-invoker-grant:\n    allowServices:\n      - |\n        acme-prod/public-*\n', 'rules.public-invoker-grant.allowServices[0]', /has white space, which no PROJECT\/SERVICE has/],
    ['a principal with a trailing space', 'rules: {off-window-deploy: {exceptions: [{principal: "breakglass@acme.com "}]}}', 'rules.off-window-deploy.exceptions[0].principal', /^"breakglass@acme.com " starts or ends with white space, which no principal does: it can match none$/],
    // A leading ! negates the glob (picomatch); the member prefix after it is not read either, so "!user:alice@acme.com"
    // matched every principal, alice too.
    ['a negated principal with a member prefix', 'rules: {off-window-deploy: {exceptions: [{principal: "!user:alice@acme.com", project: acme-prod}]}}', 'rules.off-window-deploy.exceptions[0].principal', /^a glob starting with "!" matches every value but what follows/],
    ['an unclosed bracket in a variable-name pattern', 'rules: {plaintext-secret-env: {namePatterns: ["*[PASS"]}}', 'rules.plaintext-secret-env.namePatterns[0]', /^not a valid glob: \*\[PASS \(Missing closing: "\]"/],
    ['a group as an approved deployer (audit logs name the caller, never its groups)', 'rules: {unapproved-deployer: {allowedDeployers: ["group:release@acme.com"]}}', 'rules.unapproved-deployer.allowedDeployers[0]', /^a group: or domain: member never matches: audit logs name the caller itself/],
    ['a domain in an exception principal', 'rules: {off-window-deploy: {exceptions: [{principal: "domain:acme.com"}]}}', 'rules.off-window-deploy.exceptions[0].principal', /^a group: or domain: member never matches/],
    ['an unclosed bracket in an approved deployer', 'rules: {unapproved-deployer: {allowedDeployers: ["user:*[abc"]}}', 'rules.unapproved-deployer.allowedDeployers[0]', /^not a valid glob: user:\*\[abc \(Missing closing: "\]"/],
    // picomatch throws on an empty pattern: before this check the replay crashed on the first deploy it judged.
    ['a member prefix with nothing after it', 'rules: {unapproved-deployer: {allowedDeployers: ["user:"]}}', 'rules.unapproved-deployer.allowedDeployers[0]', /^names no principal after "user:"/],
    ['an exception principal that is a prefix alone', 'rules: {off-window-deploy: {exceptions: [{principal: "serviceAccount:"}]}}', 'rules.off-window-deploy.exceptions[0].principal', /^names no principal after "serviceAccount:"/],
    ['a variable name allowed by a range written backwards', 'rules: {plaintext-secret-env: {allowNames: ["[z-a]_KEY"]}}', 'rules.plaintext-secret-env.allowNames[0]', /^not a valid glob: \[z-a\]_KEY \(it can match nothing/],
    // picomatch reads a leading `!` as "every value but": in a list, where any one glob matching is enough, a glob
    // written to leave Docker Hub out trusted every other registry, and an exception for `!ci@...` everyone but CI.
    ['a negated trusted repository', 'rules: {new-image-repository: {trustedRepositories: ["us-docker.pkg.dev/acme/*", "!docker.io/*"]}}', 'rules.new-image-repository.trustedRepositories[1]', /^a glob starting with "!" matches every value but what follows/],
    ['a negated extglob trusted repository', 'rules: {new-image-repository: {trustedRepositories: ["!(docker.io)/**"]}}', 'rules.new-image-repository.trustedRepositories[0]', /^a glob starting with "!" matches every value but what follows/],
    ['a negated exception principal', 'rules: {off-window-deploy: {exceptions: [{principal: "!ci@acme.com"}]}}', 'rules.off-window-deploy.exceptions[0].principal', /^a glob starting with "!" matches every value but what follows/],
    ['a negated allowed service', 'rules: {public-invoker-grant: {allowServices: ["!acme-prod/*"]}}', 'rules.public-invoker-grant.allowServices[0]', /^a glob starting with "!" matches every value but what follows/],
    // Several values written in one string, as a comma-separated list: no principal, project id or service name has a
    // comma (nor a project id a blank), so the glob matched nothing and exempted no one.
    ['two principals in one string', 'rules: {off-window-deploy: {exceptions: [{principal: "alice@acme.com, bob@acme.com"}]}}', 'rules.off-window-deploy.exceptions[0].principal', /^"alice@acme.com, bob@acme.com" has a comma outside \{\.\.\.\}, which no principal has: it can match none \(write one exception each, or alternatives: \{alice@acme.com,bob@acme.com\}\)$/],
    ['two users in one string, each with its member prefix', 'rules: {off-window-deploy: {exceptions: [{principal: "user:alice@acme.com, user:bob@acme.com"}]}}', 'rules.off-window-deploy.exceptions[0].principal', /it can match none \(write one exception each, or alternatives: user:\{alice@acme.com,bob@acme.com\}\)$/],
    ['a user and a service account in one string', 'rules: {off-window-deploy: {exceptions: [{principal: "user:alice@acme.com,serviceAccount:ci@acme-ci.iam.gserviceaccount.com"}]}}', 'rules.off-window-deploy.exceptions[0].principal', /it can match none \(write one exception each\)$/],
    ['two approved deployers in one string', 'rules: {unapproved-deployer: {allowedDeployers: ["ci@acme-ci.iam.gserviceaccount.com,alice@acme.com"]}}', 'rules.unapproved-deployer.allowedDeployers[0]', /has a comma outside \{\.\.\.\}, which no principal has: it can match none \(write one glob each, or alternatives: \{ci@acme-ci.iam.gserviceaccount.com,alice@acme.com\}\)$/],
    ['two projects in one string', 'rules: {off-window-deploy: {exceptions: [{project: "acme-prod, acme-dev"}]}}', 'rules.off-window-deploy.exceptions[0].project', /^"acme-prod, acme-dev" has a comma outside \{\.\.\.\}, which no project id has: it can match none \(write one exception each, or alternatives: \{acme-prod,acme-dev\}\)$/],
    ['a project with a blank', 'rules: {off-window-deploy: {exceptions: [{project: "acme prod"}]}}', 'rules.off-window-deploy.exceptions[0].project', /^"acme prod" has white space, which no project id has: it can match none$/],
    ['two services in one string', 'rules: {public-invoker-grant: {allowServices: ["acme-prod/www,acme-prod/api"]}}', 'rules.public-invoker-grant.allowServices[0]', /has a comma outside \{\.\.\.\}, which no PROJECT\/SERVICE has: it can match none \(write one glob each, or alternatives: \{acme-prod\/www,acme-prod\/api\}\)$/],
    // A project glob is matched against the project id, which has no "/", or folders/F and organizations/O (their
    // IAM): one written as a service glob or as the project's resource name exempted nothing, silently.
    ['an exception project written as PROJECT/SERVICE', 'rules: {off-window-deploy: {exceptions: [{project: "acme-prod/storefront"}]}}', 'rules.off-window-deploy.exceptions[0].project', /^a project glob is matched against the project id .*: acme-prod\/storefront can match none \(to exempt services of a project, write service: acme-prod\/storefront\)$/],
    ['an exception project written as its resource name', 'rules: {public-invoker-grant: {exceptions: [{project: "projects/acme-prod"}]}}', 'rules.public-invoker-grant.exceptions[0].project', /: projects\/acme-prod can match none \(write acme-prod\)$/],
    ['an exception project with a folder\'s path under it', 'rules: {public-invoker-grant: {exceptions: [{project: "folders/123/acme-prod"}]}}', 'rules.public-invoker-grant.exceptions[0].project', /: folders\/123\/acme-prod can match none$/],
    // external-member-grant: allowedDomains is matched against a member's domain alone, allowMembers against a whole
    // member with its prefix: a domain written as an email or a member, or a member without its prefix, allowed nothing.
    ['an allowed domain written as an email', 'rules: {external-member-grant: {allowedDomains: ["alice@acme.com"]}}', 'rules.external-member-grant.allowedDomains[0]', /^"alice@acme.com" is matched against a member's domain alone .*: it can match none$/],
    ['an allowed domain written as a domain: member', 'rules: {external-member-grant: {allowedDomains: ["domain:acme.com"]}}', 'rules.external-member-grant.allowedDomains[0]', /is matched against a member's domain alone/],
    ['two allowed domains in one string', 'rules: {external-member-grant: {allowedDomains: ["acme.com, acme.org"]}}', 'rules.external-member-grant.allowedDomains[0]', /is matched against a member's domain alone/],
    ['an allowed member without its prefix', 'rules: {external-member-grant: {allowMembers: ["support@vendor.example"]}}', 'rules.external-member-grant.allowMembers[0]', /^"support@vendor.example" is matched against a whole member with its prefix .*: it can match none$/],
    // A wildcard inside a label or over the last labels matches domains anyone can own (a Google account can be made
    // for any email address): `*acme.com` matches evilacme.com, `acme.*` acme.evil.example, `acme.*.com` acme.evil.com.
    ['an allowed domain with a wildcard inside a label', 'rules: {external-member-grant: {allowedDomains: ["*acme.com"]}}', 'rules.external-member-grant.allowedDomains[0]', /^"\*acme\.com" also matches domains outside the organization \(evilacme\.com\)/],
    ['an allowed domain with a wildcard top-level domain', 'rules: {external-member-grant: {allowedDomains: ["acme.*"]}}', 'rules.external-member-grant.allowedDomains[0]', /^"acme\.\*" also matches domains outside the organization/],
    ['an allowed domain with a wildcard label in the middle', 'rules: {external-member-grant: {allowedDomains: ["acme.*.com"]}}', 'rules.external-member-grant.allowedDomains[0]', /^"acme\.\*\.com" also matches domains outside the organization/],
    ['an allowed domain of a wildcard and a top-level domain alone', 'rules: {external-member-grant: {allowedDomains: ["*.com"]}}', 'rules.external-member-grant.allowedDomains[0]', /^"\*\.com" also matches domains outside the organization/],
    // A wildcard in front of a public suffix of two labels or more (co.uk, com.au, github.io): anyone can register a
    // domain under it, and a Google account can be made for an email at it.
    ['an allowed domain of a wildcard and a public suffix of two labels', 'rules: {external-member-grant: {allowedDomains: ["*.co.uk"]}}', 'rules.external-member-grant.allowedDomains[0]', /^"\*\.co\.uk" also matches domains outside the organization \(evil\.co\.uk\).*co\.uk is a public suffix/],
    ['an allowed domain of ** and a public suffix of two labels', 'rules: {external-member-grant: {allowedDomains: ["**.com.au"]}}', 'rules.external-member-grant.allowedDomains[0]', /com\.au is a public suffix/],
    ['an allowed domain of a wildcard and a private public suffix', 'rules: {external-member-grant: {allowedDomains: ["*.github.io"]}}', 'rules.external-member-grant.allowedDomains[0]', /github\.io is a public suffix/],
    ['an allowed domain with ? or a class', 'rules: {external-member-grant: {allowedDomains: ["acme.c?m"]}}', 'rules.external-member-grant.allowedDomains[0]', /^"acme\.c\?m" also matches domains outside the organization/],
    ['allowed domains not a list', 'rules: {external-member-grant: {allowedDomains: "acme.com"}}', 'rules.external-member-grant.allowedDomains', /^must be array$/],
    ['a misspelt external-member-grant key', 'rules: {external-member-grant: {allowedDomain: ["acme.com"]}}', 'rules.external-member-grant.allowedDomain', /^unknown key; did you mean allowedDomains\?$/],
  ])('rejects %s, at its path', (_name, text, path, reason) => {
    const found = problems(text);
    expect(found).toHaveLength(1);
    expect(found[0]!.startsWith(`${path}: `)).toBe(true);
    expect(found[0]!.slice(path.length + 2)).toMatch(reason);
  });

  // A trusted repository is matched against `host/path` (no scheme, tag, digest, blanks or capitals in the path): one
  // written otherwise never matched, and every deploy from the repository it meant was reported as untrusted.
  // Docker Hub's host alone: its images are always under a namespace (`nginx` is docker.io/library/nginx), so no
  // Docker Hub image has the repository `docker.io` (gcr.io alone does match gcr.io/app).
  it.each([' gcr.io/acme', 'gcr.io/acme ', 'gcr.io/acme/', 'gcr.io/acme/api:1', `gcr.io/acme/api@sha256:${'0'.repeat(64)}`, 'https://gcr.io/acme', 'gcr.io/Acme', 'us-docker.pkg.dev/acme/Prod/*', 'docker.io', 'index.docker.io', 'Docker.IO'])(
    'rejects a trusted repository that can match no repository: %j',
    (glob) => {
      expect(problems(`rules: {new-image-repository: {trustedRepositories: ["gcr.io/*", ${JSON.stringify(glob)}]}}`)).toEqual([
        expect.stringMatching(/^rules\.new-image-repository\.trustedRepositories\[1\]: a repository glob is matched against host\/path/),
      ]);
    },
  );

  // A bucket a container's source code comes from is its repository, written gs://BUCKET (new-image-repository). Bucket
  // names are one global namespace: anyone can create acme-builds-evil in a project of their own, so a wildcard in a
  // name trusts buckets an attacker can make. Only whole labels in front of a domain-named bucket (which needs the
  // domain's verified owner) may be wildcards.
  it.each(['gs://acme-builds', 'gs://{acme-builds,acme-staging-builds}', 'gs://*.builds.acme.com', 'GS://acme-builds', 'gs://run-sources-acme-prod-us-central1', 'gs://*.acme-prod.appspot.com', 'gs://acme-prod.appspot.com', 'gs://*.builds.acme.co.uk'])(
    'accepts a trusted bucket: %j',
    (glob) => {
      expect(problems(`rules: {new-image-repository: {trustedRepositories: [${JSON.stringify(glob)}]}}`)).toEqual([]);
    },
  );

  it.each([
    ['every bucket', 'gs://*', /a wildcard in a bucket name also trusts buckets anyone can create/],
    ['every bucket, with **', 'gs://**', /a wildcard in a bucket name also trusts buckets anyone can create/],
    ['a prefix of a name', 'gs://acme-builds-*', /also trusts buckets anyone can create \(gs:\/\/acme-builds-evil\)/],
    ['a wildcard over a domain\'s last labels', 'gs://builds.acme.*', /also trusts buckets anyone can create/],
    ['? in a name', 'gs://acme-build?', /also trusts buckets anyone can create/],
    ['a folder of a bucket', 'gs://acme-builds/team-a', /a bucket is trusted whole: gs:\/\/BUCKET, without a folder or object/],
    ['a folder glob of a bucket', 'gs://acme-builds/**', /a bucket is trusted whole/],
    ['capitals in a bucket name', 'gs://Acme-Builds', /bucket names are lower case/],
    ['no bucket', 'gs://', /names no bucket/],
    // Google names a default bucket PROJECT_ID.appspot.com (App Engine, Firebase before October 2024) or
    // PROJECT_ID.firebasestorage.app (Firebase since) in any project that asks: an attacker's project has one too.
    ['every App Engine default bucket', 'gs://*.appspot.com', /also trusts buckets anyone can create \(gs:\/\/evil\.appspot\.com\)/],
    ['every App Engine default bucket, with **', 'gs://**.appspot.com', /also trusts buckets anyone can create/],
    ['every Firebase default bucket', 'gs://*.firebasestorage.app', /also trusts buckets anyone can create \(gs:\/\/evil\.firebasestorage\.app\)/],
    // A domain-named bucket needs the domain's verified owner, and anyone can own a domain under a public suffix.
    ['every bucket named under a public suffix of two labels', 'gs://*.co.uk', /also trusts buckets anyone can create \(gs:\/\/evil\.co\.uk\).*co\.uk is a public suffix/],
    ['every bucket named under a private public suffix', 'gs://*.github.io', /github\.io is a public suffix/],
  ])('rejects a trusted bucket glob: %s', (_name, glob, reason) => {
    const found = problems(`rules: {new-image-repository: {trustedRepositories: [${JSON.stringify(glob)}]}}`);
    expect(found).toHaveLength(1);
    expect(found[0]!.startsWith('rules.new-image-repository.trustedRepositories[0]: ')).toBe(true);
    expect(found[0]).toMatch(reason);
  });

  // Project ids and Cloud Run service and job names are lower case (GCP refuses capitals in them), and service and
  // project globs are matched with case: one written with a capital (copied from a display name, say) matched
  // nothing, and exempted or allowed nothing, silently. A class (`[A-Z]`) is not looked into.
  it.each([
    ['an allowed service', 'rules: {public-invoker-grant: {allowServices: ["acme-prod/public-*", "acme-prod/Storefront"]}}', 'rules.public-invoker-grant.allowServices[1]', 'acme-prod/storefront'],
    ['an exception service in a capitalised project', 'rules: {ingress-opened: {exceptions: [{service: "Acme-Prod/*"}]}}', 'rules.ingress-opened.exceptions[0].service', 'acme-prod/*'],
    ['a job exception', 'rules: {job-run-overrides: {exceptions: [{service: "acme-prod/Backfill-*"}]}}', 'rules.job-run-overrides.exceptions[0].service', 'acme-prod/backfill-*'],
    ['one of alternatives', 'rules: {public-invoker-grant: {allowServices: ["acme-prod/{www,API}"]}}', 'rules.public-invoker-grant.allowServices[0]', 'acme-prod/{www,api}'],
    ['an exception project', 'rules: {off-window-deploy: {exceptions: [{project: "ACME-prod"}]}}', 'rules.off-window-deploy.exceptions[0].project', 'acme-prod'],
  ])('rejects capitals in %s, naming the glob in lower case', (_name, text, path, lower) => {
    const found = problems(text);
    expect(found).toHaveLength(1);
    expect(found[0]!.startsWith(`${path}: `)).toBe(true);
    expect(found[0]!.slice(path.length + 2)).toMatch(/has capitals, which no .* has \(they are lower case\): it can match none/);
    expect(found[0]!.endsWith(`(write ${lower})`)).toBe(true);
  });

  it('accepts capitals inside a class of a service or project glob', () => {
    expect(problems('rules: {public-invoker-grant: {allowServices: ["acme-prod/[a-zA-Z]*", "acme-prod/[[:alpha:]]*"]}, off-window-deploy: {exceptions: [{project: "[A-Za-z]*-prod"}]}}')).toEqual([]);
  });

  it.each([
    ['services of one project', 'rules: {public-invoker-grant: {allowServices: ["acme-prod/*", "*/public-*", "**"]}}'],
    ['** as one of several alternatives', 'rules: {public-invoker-grant: {allowServices: ["{**,acme}", "{acme,**}"]}}'],
    ['alternatives', 'rules: {off-window-deploy: {exceptions: [{service: "acme/{a,b}", principal: "{ci,cd}@acme.com", project: "acme-*"}]}}'],
    ['globs with more "/" that can still match one: **, alternatives, a leading ./ (picomatch drops it)', 'rules: {public-invoker-grant: {allowServices: ["acme-prod/**/x", "{acme/a,acme/b}", "./acme-prod/www"]}}'],
    ['a member prefix before alternatives', 'rules: {off-window-deploy: {exceptions: [{principal: "user:{alice,bob}@acme.com"}]}}'],
    ['lists written as alternatives, and a federated subject with a comma', 'rules: {off-window-deploy: {exceptions: [{principal: "{alice,bob}@acme.com"}, {principal: "user:{alice@acme.com,bob@acme.com}"}, {project: "{acme-prod,acme-dev}"}, {service: "acme-prod/{www,api}"}, {principal: "principal://iam.googleapis.com/locations/global/workforcePools/p/subject/CN=x,OU=y"}]}}'],
    ['projects that are folders or organizations', 'rules: {public-invoker-grant: {exceptions: [{project: "folders/123"}, {project: "organizations/*"}, {project: "*/123"}, {project: "**"}, {project: "{acme-prod,folders/1}"}]}}'],
    ['a repository that is a host alone (an image name with one path part)', 'rules: {new-image-repository: {trustedRepositories: ["gcr.io", "*.pkg.dev/acme/*"]}}'],
    ['repositories with ports, hosts in capitals, classes and alternatives', 'rules: {new-image-repository: {trustedRepositories: ["localhost:5000", "*:5000/team", "GCR.IO/acme", "gcr.io/[a-zA-Z]*", "{gcr.io/acme,localhost:5000}", "@(gcr.io|eu.gcr.io)/acme", "docker.io/**"]}}'],
    ['allowed domains: whole-label wildcards in front of a domain, any letter case', 'rules: {external-member-grant: {allowedDomains: ["acme.com", "*.acme.com", "**.acme.co.uk", "ACME-Corp.example", "*.*.acme.com"]}}'],
  ])('accepts globs that can match: %s', (_name, text) => {
    expect(problems(text)).toEqual([]);
  });

  // A finding the Slack section takes but routes to no channel is dead-lettered on every delivery: refused here.
  it.each([
    ['no channel at all', 'sinks: {slack: {}}', 'sinks.slack: no channel: set channel (the default), or channelsBySeverity / channelsByRule'],
    // The Slack sink refuses to start without any channel, whatever the section takes.
    ['no channel, and only a disabled rule taken', 'rules: {off-window-deploy: {enabled: false}}\nsinks: {slack: {rules: [off-window-deploy]}}', 'sinks.slack: no channel'],
    ['channels for some severities only', 'sinks: {slack: {channelsBySeverity: {HIGH: "#sec", CRITICAL: "#sec"}}}', `sinks.slack: findings of ${RULE_IDS.join(', ')} with severity LOW, MEDIUM have no channel`],
    ['channels for some rules only', 'sinks: {slack: {minSeverity: CRITICAL, channelsByRule: {off-window-deploy: "#deploys"}}}', `sinks.slack: findings of ${RULE_IDS.filter((r) => r !== 'off-window-deploy').join(', ')} with severity CRITICAL have no channel`],
    ['a rule list with one rule left out', 'sinks: {slack: {rules: [off-window-deploy, ingress-opened], channelsByRule: {off-window-deploy: "#deploys"}}}', 'sinks.slack: findings of ingress-opened with severity LOW, MEDIUM, HIGH, CRITICAL have no channel'],
  ])('rejects a Slack section with findings it cannot post: %s', (_name, text, expected) => {
    const found = problems(text);
    expect(found).toHaveLength(1);
    expect(found[0]!.startsWith(expected)).toBe(true);
  });

  it.each([
    ['a default channel', 'sinks: {slack: {channel: "#sec", channelsByRule: {off-window-deploy: "#deploys"}}}'],
    ['every severity it takes', 'sinks: {slack: {minSeverity: HIGH, channelsBySeverity: {HIGH: "#sec", CRITICAL: "#pager"}}}'],
    ['every rule it takes', 'sinks: {slack: {rules: [off-window-deploy], channelsByRule: {off-window-deploy: "#deploys"}}}'],
    ['the rules left out are disabled', `rules: {${RULE_IDS.filter((r) => r !== 'ingress-opened').map((r) => `${r}: {enabled: false}`).join(', ')}}\nsinks: {slack: {channelsByRule: {ingress-opened: "#net"}}}`],
    ['rules and severities that cover every pair between them', 'sinks: {slack: {minSeverity: HIGH, rules: [off-window-deploy, ingress-opened], channelsByRule: {off-window-deploy: "#deploys"}, channelsBySeverity: {HIGH: "#sec", CRITICAL: "#sec"}}}'],
    ['no Slack section', 'sinks: {console: {}}'],
  ])('accepts a Slack section that routes every finding it takes: %s', (_name, text) => {
    expect(problems(text)).toEqual([]);
  });

  // A sink that names a rule in `rules` takes its findings; one whose findings can never reach the sink's minSeverity
  // (under the config's own rules.<rule>.severity) is routed nowhere: nobody is paged for what the config says pages.
  it.each([
    ['a refused attempt (LOW, MEDIUM on a project) for PagerDuty at HIGH', 'sinks: {pagerduty: {rules: [public-invoker-grant, public-invoker-attempt]}}', [
      'sinks.pagerduty.rules[1]: public-invoker-attempt\'s findings are at most MEDIUM, below sinks.pagerduty.minSeverity HIGH: none would reach this sink (set rules.public-invoker-attempt.severity, or lower minSeverity)',
    ]],
    ['an unapproved deployer (MEDIUM) for SCC at CRITICAL', 'sinks: {scc: {minSeverity: CRITICAL, rules: [unapproved-deployer]}}', [
      'sinks.scc.rules[0]: unapproved-deployer\'s findings are at most MEDIUM, below sinks.scc.minSeverity CRITICAL: none would reach this sink (set rules.unapproved-deployer.severity, or lower minSeverity)',
    ]],
    ['a rule turned down below the sink', 'rules: {new-image-repository: {severity: LOW}}\nsinks: {webhook: {minSeverity: MEDIUM, rules: [new-image-repository]}}', [
      'sinks.webhook.rules[0]: new-image-repository\'s findings are at most LOW, below sinks.webhook.minSeverity MEDIUM: none would reach this sink (set rules.new-image-repository.severity, or lower minSeverity)',
    ]],
  ])('rejects a sink rule whose findings never reach its minSeverity: %s', (_name, text, expected) => {
    expect(problems(text)).toEqual(expected);
  });

  // `rules: []` reads as "no filter" to many, and sent nothing: a sink is muted by leaving its section out.
  it.each([['slack'], ['pagerduty'], ['scc'], ['webhook'], ['console']])('rejects an empty rules list on %s, saying how to send every rule or none', (sink) => {
    const extra = sink === 'slack' ? ', channel: "#sec"' : '';
    expect(problems(`sinks: {${sink}: {rules: []${extra}}}`)).toEqual([
      `sinks.${sink}.rules: an empty list sends nothing to this sink: leave rules out to send it every rule, or remove sinks.${sink} to send it none`,
    ]);
  });

  it.each([
    ['a rule raised to the sink\'s severity', 'rules: {public-invoker-attempt: {severity: HIGH}}\nsinks: {pagerduty: {rules: [public-invoker-attempt]}}'],
    ['a rule that reaches it in its worse case only (a deploy during a freeze is HIGH)', 'sinks: {pagerduty: {rules: [off-window-deploy]}}'],
    ['a rule turned down whose worse case keeps its own severity', 'rules: {ingress-opened: {severity: LOW}}\nsinks: {pagerduty: {rules: [ingress-opened]}}'],
    ['no rules list (the sink takes what reaches its severity)', 'sinks: {pagerduty: {minSeverity: CRITICAL}}'],
  ])('accepts a sink rule that can reach its minSeverity: %s', (_name, text) => {
    expect(problems(text)).toEqual([]);
  });

  it('a problem with a part of a value does not hide a problem with the whole (every problem at once)', () => {
    expect(problems('freezes: [{start: "2024-12-24", end: "2024-12-20", reason: 5}]')).toEqual(['freezes[0].reason: must be string', 'freezes[0]: end must be after start']);
    expect(problems('changeWindows: [{days: [monday], start: "09:00", end: "09:00"}]')).toEqual([
      expect.stringMatching(/^changeWindows\[0\]\.days\[0\]: /),
      'changeWindows[0]: start and end are equal: an empty window',
    ]);
  });

  // The checks beyond the schema read a window's start and end, a freeze's start and end: where the schema rejected
  // one of them, what they would say of it is noise ("25:00" to "25:00" is no empty window, it is two bad times),
  // or an order computed from a value the file must change anyway.
  it.each([
    ['a window whose start and end are both malformed alike', 'changeWindows: [{days: [mon], start: "25:00", end: "25:00"}]', ['changeWindows[0].start', 'changeWindows[0].end']],
    ['a window written with one-digit hours', 'changeWindows: [{days: [mon], start: "9:00", end: "9:00"}]', ['changeWindows[0].start', 'changeWindows[0].end']],
    ['a freeze whose start the schema refused, in order or not', 'freezes: [{start: "2025-05-20T10:00:00+0200", end: "2024-05-21"}]', ['freezes[0].start']],
    ['a freeze whose end the schema refused', 'freezes: [{start: "2025-05-20", end: "2024-05-21T10:00:00+0200"}]', ['freezes[0].end']],
  ])('says nothing more of a start or end the schema rejected: %s', (_name, text, paths) => {
    expect(configProblems(text, true)).toEqual(paths);
  });

  // The Admin API fallback's afterSeconds is compared with waitSeconds: a waitSeconds the schema rejected (-1) gave a
  // second problem computed from it ("must be less than correlation.waitSeconds (-1)"), which fixing the wait ends.
  it.each([
    ['a waitSeconds below 0', 'correlation: {waitSeconds: -1, adminApiFallback: {enabled: true, afterSeconds: 700}}', ['correlation.waitSeconds: must be >= 0']],
    ['a waitSeconds that is no number', 'correlation: {waitSeconds: "600", adminApiFallback: {enabled: true, afterSeconds: 700}}', ['correlation.waitSeconds: must be integer']],
    ['an afterSeconds over its maximum', 'correlation: {waitSeconds: 600, adminApiFallback: {enabled: true, afterSeconds: 4000}}', ['correlation.adminApiFallback.afterSeconds: must be <= 3600']],
  ])('says nothing more of afterSeconds against waitSeconds where the schema rejected one of them: %s', (_name, text, expected) => {
    expect(problems(text)).toEqual(expected);
  });

  it('the Slack routing check says nothing of a section the schema rejected a part of', () => {
    expect(problems('sinks: {slack: {channelsBySeverity: {HIGH: "#sec", URGENT: "#sec"}}}')).toEqual([expect.stringMatching(/^sinks\.slack\.channelsBySeverity\.URGENT: unknown key/)]);
    expect(problems('rules: {off-window-deploy: {enabled: "no"}}\nsinks: {slack: {rules: [off-window-deploy], channelsByRule: {ingress-opened: "#net"}}}')).toEqual(['rules.off-window-deploy.enabled: must be boolean']);
  });

  it('a Slack section with no channel at all is reported beside a rule the schema rejected (it reads no rule)', () => {
    // Only which findings go without a channel depends on the rules; a section with no channel posts none at all.
    expect(problems('rules: {service-account-change: {enabled: "yes"}}\nsinks: {slack: {minSeverity: LOW}}')).toEqual([
      'rules.service-account-change.enabled: must be boolean',
      'sinks.slack: no channel: set channel (the default), or channelsBySeverity / channelsByRule',
    ]);
  });

  // The check for no channel at all reads the section's channel settings alone (README: validate-config lists every
  // problem). A minSeverity or rules list the schema rejected did hide it: fixed, the file failed again, on the channel.
  // A rejected channel setting, or a key the schema does not know (a misspelt channel), still does: that problem is
  // the missing channel.
  const NO_CHANNEL = 'sinks.slack: no channel: set channel (the default), or channelsBySeverity / channelsByRule';
  it.each([
    ['minSeverity (in lower case)', 'sinks: {slack: {minSeverity: high}}', ['sinks.slack.minSeverity: must be one of LOW, MEDIUM, HIGH, CRITICAL; did you mean HIGH?', NO_CHANNEL]],
    ['rules list (empty)', 'sinks: {slack: {rules: []}}', [expect.stringMatching(/^sinks\.slack\.rules: an empty list sends nothing to this sink/), NO_CHANNEL]],
    ['rules list (no such rule)', 'sinks: {slack: {rules: [off-window-deploys]}}', [expect.stringMatching(/^sinks\.slack\.rules\[0\]: must be one of /), NO_CHANNEL]],
    ['minSeverity and rules list', 'sinks: {slack: {minSeverity: high, rules: [ingress]}}', [expect.stringMatching(/^sinks\.slack\.minSeverity: /), expect.stringMatching(/^sinks\.slack\.rules\[0\]: /), NO_CHANNEL]],
  ])('a Slack section with no channel at all is reported beside the schema\'s problem with its %s', (_name, text, expected) => {
    expect(problems(text)).toEqual(expected);
  });

  it.each([
    ['a misspelt channel key', 'sinks: {slack: {chanel: "#sec"}}', ['sinks.slack.chanel: unknown key; did you mean channel?']],
    ['a channel that is not a string', 'sinks: {slack: {channel: 5}}', ['sinks.slack.channel: must be string']],
    ['an empty channel', 'sinks: {slack: {channel: "", minSeverity: high}}', [expect.stringMatching(/^sinks\.slack\.minSeverity: /), 'sinks.slack.channel: must not be empty']],
    ['a section that is no object', 'sinks: {slack: "#sec"}', ['sinks.slack: must be object']],
  ])('says nothing of a missing channel where the schema rejected a channel setting: %s', (_name, text, expected) => {
    expect(problems(text)).toEqual(expected);
  });

  it('a window cannot start at 24:00 (it could never match)', () => {
    expect(problems('changeWindows: [{days: [mon], start: "24:00", end: "00:00"}]')).toEqual(['changeWindows[0].start: a window cannot start at 24:00 (the end of the day): use 00:00']);
  });

  it('the error message lists the file and every problem', () => {
    expect(() => parseConfig('timezone: 5\nbogus: 1', 'runwatch.yaml')).toThrow(/invalid config runwatch.yaml:\n {2}timezone: must be string\n {2}bogus: unknown key|bogus: unknown key\n {2}timezone: must be string/);
  });
});
