// Environment variables a revision sets to a secret in plain text, judged here from the value and the name
// (plaintext-secret-env's globs): only the names of those go further, never a value. Anyone who can view the service
// (roles/run.viewer) or read its audit logs reads such a value; Secret Manager references (v1
// `valueFrom.secretKeyRef`, v2 `valueSource.secretKeyRef`) do not carry one.
import { hash } from 'node:crypto';
import { codeLoadingKey, envVarName, type CodeLoadingVar, type PlainEnvVar } from '../model/change.js';
import type { EnvSecrets, SecretEnvNames } from './normalize.js';
import { nameMatcher } from '../config/glob.js';
import { asArray, asObject, asString, field, type JsonObject } from './json.js';
import { cutText, truncatePlain } from '../untrustedText.js';

/**
 * A credential format: its name, what finds it, and (`hide`) what of a text it hides when more or less than the match
 * (by default the match): only the credential, so the rest of the text (the command a job run was given) stays evidence.
 */
type CredentialFormat = readonly [name: string, pattern: RegExp, hide?: (text: string, hidden: string, optionLine: boolean) => string];

/**
 * Credential formats recognised in a value, by their fixed prefixes and lengths (the formats secret scanners such as
 * gitleaks and GitHub secret scanning look for). A match is reported whatever the variable is called.
 */
const CREDENTIAL_FORMATS: readonly CredentialFormat[] = [
  // PEM (`RSA`, `EC`, `OPENSSH`, `ENCRYPTED`...) and OpenPGP's armor (`PGP PRIVATE KEY BLOCK`), as gitleaks reads them.
  // Hidden from its header to its end marker, else to the end of the text: the key material follows the header.
  [
    'a private key',
    /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/,
    (text, hidden) => text.replace(/-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[^]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g, hidden),
  ],
  ['an AWS access key id', /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/],
  ['a Google API key', /\bAIza[0-9A-Za-z_-]{35}\b/],
  ['a GitHub token', /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b/],
  ['a GitLab token', /\bglpat-[A-Za-z0-9_-]{20,}\b/],
  // Bot, user and other xox tokens; refresh tokens of token rotation (xoxe-); Socket Mode's app-level tokens (xapp-).
  ['a Slack token', /\b(?:xox[abeposr]|xapp)-[A-Za-z0-9-]{10,}\b/],
  ['a Stripe secret key', /\b[sr]k_live_[A-Za-z0-9]{20,}\b/],
  // An incoming webhook's or a workflow trigger's URL is its credential: whoever holds it posts to the channel
  // (gitleaks' slack-webhook-url). Hidden from the host on: the path is the secret.
  ['a Slack webhook URL', /\bhooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9+/]{20,}/],
  // Anywhere in the text, not only at its start: an argument passes a URL after its flag or name
  // (`--database-url=postgres://app:pw@db/shop`), and a value can hold one inside (`jdbc:postgresql://...`). The
  // scheme is bounded, so a long value of letters is read in linear time, not tried from every letter to its end.
  // Hidden between the `:` and the last `@` before the path: a password written with a raw `@` is hidden whole.
  [
    'a password in a URL',
    /[a-z][a-z0-9+.-]{0,31}:\/\/[^/\s:@]*:[^/\s@]+@/i,
    (text, hidden) => text.replace(/([a-z][a-z0-9+.-]{0,31}:\/\/[^/\s:@]*:)[^/\s]*@/gi, `$1${hidden}@`),
  ],
];

// An Authorization header's credentials, after its scheme: any scheme (RFC 9110: the credentials follow it), not only
// Bearer and Basic (Elastic's ApiKey, Dynatrace's Api-Token, Splunk's); no `+` or `%` in the scheme, where they separate
// it from the credentials. In a line of options the runtime ends an option at white space, so there the scheme and the
// credentials are one option only joined by %20 or + (`-Dotel.exporter.otlp.headers=Authorization=Bearer%20...`): what
// follows a space is another option (`-Dkeycloak.authorization=true -javaagent:...`), shown. In an argument (a shell line's
// words) a space may follow a header's colon, or `=` and a scheme that carries a credential.
const AUTHORIZATION_SCHEME = '[a-z][a-z0-9._~-]*';
const AUTHORIZATION_JOINED = `authorization\\s*[:=]\\s*${AUTHORIZATION_SCHEME}(?:%20|\\+)`;
const AUTHORIZATION_SPACED = `authorization\\s*(?::\\s*${AUTHORIZATION_SCHEME}|=\\s*(?:bearer|basic|token|bot))\\s+`;
const AUTHORIZATION_CREDENTIALS = `(?!\\[hidden)[^\\s"',;&]+`;
const AUTHORIZATION_IN_OPTION = new RegExp(`\\b${AUTHORIZATION_JOINED}${AUTHORIZATION_CREDENTIALS}`, 'i');
const AUTHORIZATION_IN_OPTION_ALL = new RegExp(`(\\b${AUTHORIZATION_JOINED})${AUTHORIZATION_CREDENTIALS}`, 'gi');
const AUTHORIZATION_IN_ARGUMENT_ALL = new RegExp(`(\\b(?:${AUTHORIZATION_JOINED}|${AUTHORIZATION_SPACED}))${AUTHORIZATION_CREDENTIALS}`, 'gi');

/**
 * Bearer credentials, hidden wherever a value or an argument is shown (hideCredentials) but not reported as a secret in
 * a variable on their own (plaintext-secret-env reads CREDENTIAL_FORMATS only: some are public or short-lived by
 * design, a Supabase anon key is a JWT). None has a secret's NAME=VALUE form to be hidden by: a request header's
 * credentials, whatever its scheme (`curl -H 'Authorization: Bearer ...'`,
 * `-Dotel.exporter.otlp.headers=Authorization=Bearer%20...`; the scheme stays shown, a credential hidden already is
 * left alone), Google's OAuth access token (`gcloud auth print-access-token`) and a JSON Web Token (an identity token).
 */
const HIDDEN_FORMATS: readonly CredentialFormat[] = [
  [
    'an authorization header',
    AUTHORIZATION_IN_OPTION,
    (text, hidden, optionLine) => text.replace(optionLine ? AUTHORIZATION_IN_OPTION_ALL : AUTHORIZATION_IN_ARGUMENT_ALL, `$1${hidden}`),
  ],
  ['a Google OAuth access token', /\bya29\.[A-Za-z0-9_-]{20,}/],
  ['a JSON Web Token', /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/],
];

const SHOWN_FORMATS: readonly CredentialFormat[] = [...CREDENTIAL_FORMATS, ...HIDDEN_FORMATS];

/** The credential formats (CREDENTIAL_FORMATS) a text holds, by name. */
export function credentialFormatsIn(text: string): string[] {
  return CREDENTIAL_FORMATS.filter(([, pattern]) => pattern.test(text)).map(([format]) => format);
}

/**
 * `text` with every credential in it (CREDENTIAL_FORMATS, then HIDDEN_FORMATS, in order) replaced by `[hidden: FORMAT]`;
 * `optionLine`: `text` is a line of options the runtime splits at white space (hideSecretsInOptions).
 */
export function hideCredentials(text: string, optionLine = false): string {
  let out = text;
  for (const [format, pattern, hide] of SHOWN_FORMATS) {
    const hidden = `[hidden: ${format}]`;
    out = hide ? hide(out, hidden, optionLine) : out.replace(new RegExp(pattern.source, `${pattern.flags}g`), hidden);
  }
  return out;
}

/**
 * A command-line argument with any secret in it hidden: each credential (a credential format), the value of
 * `NAME=VALUE` (`--NAME=VALUE`) when NAME is a secret's name by `names` (plaintext-secret-env's globs; `-` and `.` in
 * it read as `_` too, `--api-key` as API_KEY): all after the `=` when the argument starts with it, else each such
 * assignment that starts a word of a command line (`sh -c 'PGUSER=app mysql --password=VALUE ...'`), an item of a list
 * after a flag's `=` or a comma (gcloud's `--set-env-vars=A=1,DB_PASSWORD=VALUE`) or of a URL's query or fragment
 * (`?api_key=VALUE`), up to the next white space (a quoted value to its closing quote); and the word after a secret's
 * flag in a command line (`mysql --password VALUE`, `consul kv get -token VALUE`). An argument after its flag
 * (`--token`, `VALUE`) is hidden by hideSecretsInArgs, which sees the arguments together.
 */
function hideSecretsInArg(given: string, names: SecretEnvNames | undefined): string {
  return hideSecrets(given, names, true, WORD_VALUE);
}

/**
 * A command's arguments with every secret in them hidden: each as hideSecretsInArg hides it, and an argument after a
 * flag that names a secret (`--db-password`, `VALUE`: how most command lines, and gcloud's
 * `--args=--db-password,VALUE`, pass it) hidden whole (a credential hidden already keeps its marker). Not a long flag
 * after it (`--api-token --verbose`: the first is a switch), nor an absolute file path after a flag that names a file
 * (`--password-file /run/secrets/db`, as NAMES_A_FILE), nor anything after a switch that takes no value (`--no-password
 * -h db`, `--password-stdin REGISTRY`).
 */
export function hideSecretsInArgs(args: readonly string[], names: SecretEnvNames | undefined): string[] {
  const isSecret = names ? secretNameJudge(names) : undefined;
  return args.map((arg, i) => {
    const shown = hideSecretsInArg(arg, names);
    const flag = i > 0 && isSecret ? SECRET_FLAG.exec(args[i - 1]!)?.[1] : undefined;
    if (flag === undefined || !isSecret!(flag) || !isFlagValue(flag, arg) || HIDDEN_MARKER.test(shown)) return shown;
    return '[hidden]';
  });
}

/** A flag alone, with no `=VALUE`: its name. */
const SECRET_FLAG = /^-{1,2}([A-Za-z_][A-Za-z0-9_.-]*)$/;

/**
 * Whether `value`, after flag `flag`, is its value: not another long flag, nor the path of a file the flag names; and a
 * switch takes none: a negated one (`--no-password`, psql's and pg_dump's, so a job never waits at a prompt), or one
 * that reads the secret from standard input (`docker login --password-stdin`).
 */
function isFlagValue(flag: string, value: string): boolean {
  return !SWITCH_WITHOUT_VALUE.test(flag) && !/^--[A-Za-z]/.test(value) && !(NAMES_A_FILE.test(flag.replace(/[-.]/g, '_')) && FILE_PATH_VALUE.test(value));
}
const SWITCH_WITHOUT_VALUE = /^no[-_.]|[-_.]stdin$/i;

/**
 * Whether a name (a variable's, an option's, a flag's) names a secret by `names` (plaintext-secret-env's globs); flags
 * and options spell a name with `-` or `.` where a variable has `_` (`--api-key`, `-Daws.access.key`).
 */
function secretNameJudge(names: SecretEnvNames): (name: string) => boolean {
  const allowed = nameMatcher(names.allowNames);
  const secretName = nameMatcher(names.namePatterns);
  return (name) => {
    const underscored = name.replace(/[-.]/g, '_');
    return !allowed(name) && !allowed(underscored) && (secretName(name) || secretName(underscored));
  };
}

/**
 * A line of options (an option variable's value: `JAVA_TOOL_OPTIONS`, `NODE_OPTIONS`), which the runtime splits at
 * white space, with any secret in it hidden as hideSecretsInArg does, but an assignment that starts the line is one
 * option, hidden up to where the runtime ends the option (`splitsAt`: ASCII white space for the JVM, Perl and Ruby; the
 * space character alone for Node's NODE_OPTIONS, which keeps a tab or a line break inside an option): the options
 * after it stay evidence (`-Ddb.password=[hidden] -javaagent:...`); one a quote opens is one option, hidden to the
 * quote's close.
 */
function hideSecretsInOptions(given: string, names: SecretEnvNames | undefined, splitsAt: 'white-space' | 'space' = 'white-space'): string {
  return hideSecrets(given, names, false, splitsAt === 'space' ? VALUE_TO_SPACE : ASSIGNMENT_VALUE);
}

function hideSecrets(given: string, names: SecretEnvNames | undefined, wholeArgument: boolean, valueTo: RegExp): string {
  const arg = hideCredentials(given, !wholeArgument);
  if (!names) return arg;
  const isSecret = secretNameJudge(names);
  const assignment = wholeArgument ? /^(-{0,2})([A-Za-z_][A-Za-z0-9_.-]*)=(.+)$/s.exec(arg) : null;
  if (assignment && isSecret(assignment[2]!)) return `${assignment[1]}${assignment[2]}=[hidden]`;
  // Every assignment is looked at, inside another's value too (`--set-env-vars=DB_PASSWORD=...`).
  const head = new RegExp(ASSIGNMENT_HEAD);
  let out = '';
  let from = 0;
  for (let match = head.exec(arg); match; match = head.exec(arg)) {
    if (!isSecret(match[2]!)) continue;
    // In a line of options an assignment opened by a quote (`"--password=a b"`, one option once the runtime drops the
    // quote) runs to its close; in an argument a quote opens a shell line (`sh -c "PW=x ./sync"`), words apart.
    const quote = !wholeArgument && match.index > 0 ? arg[match.index - 1] : undefined;
    const value = new RegExp(quote === '"' ? QUOTED_VALUE['"'] : quote === "'" ? QUOTED_VALUE["'"] : valueTo);
    value.lastIndex = head.lastIndex;
    const found = value.exec(arg)?.[0] ?? '';
    // A credential hidden already that is the whole value keeps its marker (it says which format it was); a value
    // with more than the marker is hidden whole, marker and all.
    if (HIDDEN_MARKER.test(found)) {
      head.lastIndex = value.lastIndex;
      continue;
    }
    out += `${arg.slice(from, head.lastIndex)}[hidden]`;
    from = head.lastIndex = value.lastIndex;
  }
  const assigned = from === 0 ? arg : out + arg.slice(from);
  return wholeArgument ? hideFlagWords(assigned, isSecret) : assigned;
}

/**
 * A command line (an argument) with the word after each flag that names a secret hidden (`mysql --password VALUE`,
 * `-token VALUE`), up to the next white space outside quotes; not a word that is a flag, nor a file's path after a flag
 * that names a file (isFlagValue), nor a credential's marker.
 */
function hideFlagWords(line: string, isSecret: (name: string) => boolean): string {
  const head = new RegExp(FLAG_WORD_HEAD);
  let out = '';
  let from = 0;
  for (let match = head.exec(line); match; match = head.exec(line)) {
    const flag = match[1]!;
    if (!isSecret(flag)) continue;
    const value = new RegExp(WORD_VALUE);
    value.lastIndex = head.lastIndex;
    const found = value.exec(line)?.[0] ?? '';
    if (found === '' || found === '[hidden]' || HIDDEN_MARKER.test(found) || !isFlagValue(flag, found)) continue;
    out += `${line.slice(from, head.lastIndex)}[hidden]`;
    from = head.lastIndex = value.lastIndex;
  }
  return from === 0 ? line : out + line.slice(from);
}

/**
 * A flag with no `=` and the ASCII white space after it, where a word of a command line starts (ASSIGNMENT_HEAD): a
 * quote may close the flag (`"--password" VALUE`, one word once the shell drops the quotes), and a backslash that ends a
 * line is no break (`--password \<newline>  VALUE`: the shell joins the lines). The next word is its value whatever it
 * starts with, as in hideSecretsInArgs (isFlagValue leaves out a long flag).
 */
const FLAG_WORD_HEAD = /(?<=^|[\s;|&({`"'])-{1,2}([A-Za-z_][A-Za-z0-9_.-]*)["']?(?:[ \t\n\r\f\v]|\\\r?\n)+(?=\S)/g;

/**
 * `NAME=` where an assignment can start: the argument's start, after white space, a `=` or a comma (lists), a `?`,
 * `&` or `#` (a URL's query or fragment: OAuth's `#access_token=`), a `;`, `|`, `(`, `{` or backtick (the next
 * command of a shell line), or a quote.
 */
const ASSIGNMENT_HEAD = /(?<=^|[\s=,?&#;|({`"'])(-{0,2})([A-Za-z_][A-Za-z0-9_.-]*)=/g;
/**
 * An assignment's value: up to the next white space outside quotes and a credential's `[hidden: FORMAT]` marker (the
 * credential may be only part of the value: `AKIA...:SECRET`, `pw-AKIA...`); quoted pieces and the text beside them
 * are one word (`"a b"c`), as a shell and the runtimes read them. ASCII white space only: Node splits NODE_OPTIONS at
 * spaces, the JVM its option variables and a shell its words at ASCII white space, so a no-break space, an
 * ideographic space or a line separator is part of the value (`\S` stopped there and showed the rest of a password).
 */
const ASSIGNMENT_VALUE = /(?:"[^"]*"?|'[^']*'?|\[hidden: [^[\]]{1,40}\]|[^ \t\n\r\f\v])*/y;
/**
 * ASSIGNMENT_VALUE in an argument, a shell's words: a backslash that ends a line joins the lines into one word
 * (`PGPASSWORD=\<newline>VALUE`), where a runtime's option line has no such escape.
 */
const WORD_VALUE = /(?:"[^"]*"?|'[^']*'?|\[hidden: [^[\]]{1,40}\]|\\\r?\n|[^ \t\n\r\f\v])*/y;
/** ASSIGNMENT_VALUE in NODE_OPTIONS, which Node splits at the space character alone. */
const VALUE_TO_SPACE = /(?:"[^"]*"?|'[^']*'?|\[hidden: [^[\]]{1,40}\]|[^ ])*/y;
/** The value of an assignment that a quote opened: up to that quote's close (not included), or the end. */
const QUOTED_VALUE = { '"': /[^"]*/y, "'": /[^']*/y } as const;
/** A value that is one credential's marker, and at most the quote or parenthesis that closes it. */
const HIDDEN_MARKER = /^\[hidden: [^[\]]{1,40}\]["')]*$/;

/** Values that cannot be a secret whatever the variable is called: flags, numbers, references, plain URLs. */
const NOT_SECRET = /^(?:true|false|yes|no|on|off|none|null|[-+]?\d+(?:\.\d+)?[a-z]{0,2}|projects\/[^/]+\/secrets\/.+|[a-z][a-z0-9+.-]*:\/\/[^@\s]*)$/i;

/**
 * A variable that names where a secret is, not the secret: a file (the `_FILE` convention of Docker's official
 * images, `DB_PASSWORD_FILE`; a Cloud Run secret volume), a path or a directory, and Application Default
 * Credentials' key file. With an absolute path as its value (FILE_PATH_VALUE) it is no secret by its name; a
 * credential format in the value is still one.
 */
const NAMES_A_FILE = /(?:_FILE|_PATH|_DIR|_DIRECTORY)$|^GOOGLE_APPLICATION_CREDENTIALS$/i;
/** An absolute file path: `/` and at least two segments of letters, digits, `.`, `_`, `-` (no blanks, no `+` or `=`). */
const FILE_PATH_VALUE = /^\/[\w.-]+(?:\/[\w.-]+)+$/;

/** Shorter values are too short to be a secret worth reporting by name alone (`dev`, `info`, `eu-west`). */
const MIN_SECRET_LENGTH = 8;

/**
 * At most this many variables are kept per write, their names cut: they travel in the service's baseline (each
 * waiting rollout, up to 64, and the history, 32 points), which must stay far below Firestore's 1 MiB a document
 * whatever a deployer writes. A deploy with more such variables is reported all the same.
 */
const MAX_VARIABLES = 16;
const MAX_NAME_LENGTH = 64;
const MAX_CONTAINER_NAME_LENGTH = 32;

/**
 * The variables of `containers` set to a secret in plain text: a value that matches a credential format, or a name
 * matching `names.namePatterns` with a value that could be a secret (long enough; not a flag, a number, a Secret
 * Manager name, a URL without a password, or a file path under a name that says it names one: NAMES_A_FILE); never a
 * name in `names.allowNames`. Names are kept (cut), values never; past MAX_VARIABLES, as foldPlainEnv keeps them.
 */
export function plainEnvOf(containers: readonly unknown[], names: SecretEnvNames): readonly PlainEnvVar[] {
  let out: PlainEnvVar[] | undefined;
  for (const item of containers) {
    const container = asObject(item);
    const env = asArray(container?.['env']);
    if (env.length === 0) continue; // most containers: no matcher looked up
    const allowed = nameMatcher(names.allowNames);
    const secretName = nameMatcher(names.namePatterns);
    const containerName = asString(container?.['name']);
    for (const entry of env) {
      const variable = asObject(entry);
      const name = asString(variable?.['name']);
      const value = asString(variable?.['value']);
      if (!name || !value || allowed(name)) continue;
      const formats = credentialFormatsIn(value);
      const trimmed = value.trim();
      const secret =
        formats.length > 0 ||
        (secretName(name) && trimmed.length >= MIN_SECRET_LENGTH && !NOT_SECRET.test(trimmed) && !(NAMES_A_FILE.test(name) && FILE_PATH_VALUE.test(trimmed)));
      if (!secret) continue;
      out ??= [];
      out.push({ ...(containerName ? { container: cutText(containerName, MAX_CONTAINER_NAME_LENGTH) } : {}), name: cutText(name, MAX_NAME_LENGTH), formats });
    }
  }
  return out ? foldPlainEnv(namedOnlyWhereShared(out)) : NONE;
}

/** What stands for the plain secrets past the first NAMED_PLAIN_VARIABLES: `(more) H1 H2 ...` (foldPlainEnv). */
export const MORE_PLAIN_VARIABLES = '(more)';
/** How many plain secrets are named one by one before the rest are kept as one (MORE_PLAIN_VARIABLES). */
export const NAMED_PLAIN_VARIABLES = MAX_VARIABLES - 1;
/** How many digests of names the variable past the named ones holds (the baseline keeps one per revision). */
const FOLDED_NAME_DIGESTS = 16;

/**
 * At most MAX_VARIABLES variables: the first NAMED_PLAIN_VARIABLES by name, and the rest as one, named `(more) H1 H2
 * ...` after a short digest of each of their names (plainVariableDigest, sorted), with the credential formats of all of
 * them. Each name is kept, not only the set: which variables are named depends on the ones before them, so dropping
 * one of the first 15 (moved to Secret Manager) brings the 16th into the named ones, which the rule must know it had
 * (past the first 15, a digest of the whole set changed with it and paged for nothing). Past FOLDED_NAME_DIGESTS names
 * the last digest, `+DIGEST`, stands for the rest together. Folded from the 16th variable on, so that a list of 16 by
 * name and none past them is only ever one an earlier version stored, which dropped any past the 16th.
 */
function foldPlainEnv(variables: PlainEnvVar[]): readonly PlainEnvVar[] {
  if (variables.length <= NAMED_PLAIN_VARIABLES) return variables;
  const rest = variables.slice(NAMED_PLAIN_VARIABLES);
  const formats = [...new Set(rest.flatMap((v) => v.formats))];
  const digests = [...new Set(rest.map((v) => plainVariableDigest(v.name)))].sort();
  const shown =
    digests.length <= FOLDED_NAME_DIGESTS
      ? digests
      : [...digests.slice(0, FOLDED_NAME_DIGESTS - 1), `+${hash('sha256', digests.slice(FOLDED_NAME_DIGESTS - 1).join(' '), 'base64url').slice(0, 6)}`];
  return [...variables.slice(0, NAMED_PLAIN_VARIABLES), { name: `${MORE_PLAIN_VARIABLES} ${shown.join(' ')}`, formats }];
}

/** A short digest of a plain variable's name (its container left out), as foldPlainEnv keeps those past the named ones. */
export function plainVariableDigest(name: string): string {
  return hash('sha256', name, 'base64url').slice(0, 6);
}

/** The digests a variable past the named ones holds (foldPlainEnv), or undefined for a variable named as itself. */
export function foldedPlainVariables(name: string): readonly string[] | undefined {
  return name.startsWith(`${MORE_PLAIN_VARIABLES} `) ? name.slice(MORE_PLAIN_VARIABLES.length + 1).split(' ') : undefined;
}

/** What most revisions set (one list shared by every baseline that keeps it, not one per deploy). */
const NONE: readonly PlainEnvVar[] = Object.freeze([]);

/**
 * The names of CODE_LOADING_ENV read from the version that added them on: a baseline stored before holds no key of
 * theirs (ServiceBaseline.codeLoadingEnvReadsAllFrom), so one set all along is not newly set on the upgrade.
 */
export const CODE_LOADING_ENV_READ_LATER: ReadonlySet<string> = new Set(['JAVA_OPTS', 'CATALINA_OPTS', 'PYTHONWARNINGS']);

/**
 * Variables that make a runtime load or run code they name (an interpreter's options or module path, the dynamic
 * linker's preload and search path, a shell's start-up file, the command search path): setting one in a run runs the
 * caller's code as surely as overriding the arguments (`NODE_OPTIONS=--import=data:...`, `LD_PRELOAD`, `BASH_ENV`).
 */
export const CODE_LOADING_ENV: ReadonlySet<string> = new Set([
  'NODE_OPTIONS',
  'NODE_PATH',
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
  'LD_AUDIT',
  'BASH_ENV',
  'ENV',
  'PATH',
  'PYTHONSTARTUP',
  'PYTHONPATH',
  'PYTHONHOME',
  // The user site-packages under it: its .pth files' `import` lines run at start-up (the site module).
  'PYTHONUSERBASE',
  // Warning filters (`action:message:category:module:lineno`, comma-separated): a category with a dot names a module
  // that Python imports at start-up to find it (warnings._getcategory); only antigravity's import runs code the
  // environment names (CODE_LOADING_OPTIONS).
  'PYTHONWARNINGS',
  'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS',
  'JDK_JAVA_OPTIONS',
  // Eclipse OpenJ9's (IBM Semeru's), read as JAVA_TOOL_OPTIONS is.
  'OPENJ9_JAVA_OPTIONS',
  'IBM_JAVA_OPTIONS',
  // No JVM reads these, but most Java images' start scripts pass them to it (Tomcat's catalina.sh, WildFly's
  // standalone.sh, `java $JAVA_OPTS -jar app.jar` entrypoints).
  'JAVA_OPTS',
  'CATALINA_OPTS',
  'CLASSPATH',
  'PERL5OPT',
  'PERL5LIB',
  'PERLLIB',
  'RUBYOPT',
  'RUBYLIB',
  'GCONV_PATH',
  'PHPRC',
  'PHP_INI_SCAN_DIR',
  'DOTNET_STARTUP_HOOKS',
  // An OpenSSL configuration to read instead of the default: a module it names that OpenSSL does not build in is
  // loaded as a shared library (config(5ssl)), in every process that starts OpenSSL (node, python, curl...).
  'OPENSSL_CONF',
  // The native profiler library the .NET runtime loads into the process (DOTNET_ prefixed from .NET 11).
  'CORECLR_PROFILER_PATH',
  'CORECLR_PROFILER_PATH_64',
  'DOTNET_PROFILER_PATH',
  'DOTNET_PROFILER_PATH_64',
]);

/** A value as findings show it: cut, and with any secret in it hidden (hideSecretsInOptions). */
const MAX_SHOWN_VALUE_LENGTH = 200;

/**
 * The variables of `containers` that make a runtime load code (CODE_LOADING_ENV), with their values as findings
 * show them (secrets hidden, cut) and a digest of the whole value, or of the Secret Manager reference that sets it
 * (v1 `valueFrom.secretKeyRef`, v2 `valueSource.secretKeyRef`): what code-loading-env compares revision by revision.
 * The digest is SHA-256: whoever writes the value must not be able to give a new one the digest of the old.
 */
export function codeLoadingEnvOf(containers: readonly unknown[], secrets: EnvSecrets = {}): readonly CodeLoadingVar[] {
  // The values go to every sink: hidden by plaintext-secret-env's globs whether or not that rule is on (`secretArgs`),
  // as a job run's arguments are.
  const secretNames = secrets.secretArgs ?? secrets.secretEnv;
  let out: CodeLoadingVar[] | undefined;
  for (const item of containers) {
    const container = asObject(item);
    const env = asArray(container?.['env']);
    if (env.length === 0) continue;
    const containerName = asString(container?.['name']);
    for (const entry of env) {
      const variable = asObject(entry);
      const name = asString(variable?.['name']);
      if (!name || !CODE_LOADING_ENV.has(name)) continue;
      const value = literalValue(variable);
      const reference = value === undefined ? secretReference(variable) : undefined;
      const shown = value !== undefined ? shownValue(name, hideSecretsInOptions(value, secretNames, name === 'NODE_OPTIONS' ? 'space' : 'white-space')) : reference ? `[Secret Manager: ${cutText(reference, MAX_SHOWN_VALUE_LENGTH)}]` : '';
      out ??= [];
      out.push({
        ...(containerName ? { container: cutText(containerName, MAX_CONTAINER_NAME_LENGTH) } : {}),
        name,
        value: shown,
        digest: digestOf(value !== undefined ? `value:${value}` : `secret:${reference ?? ''}`),
        // A reference's value is not in the entry: it may load code.
        loadsCode: value === undefined || loadsCode(name, value),
      });
    }
  }
  return out === undefined ? NO_CODE_LOADING : capCodeLoading(namedOnlyWhereShared(out));
}

/**
 * The variables keyed by name alone, and by container and name only where more than one container sets the name:
 * clients name a service's one container differently (gcloud `placeholder-1`, others none, the console its own), and
 * adding a sidecar does not move the app's variables; an unchanged variable keeps its key whichever client deploys.
 */
function namedOnlyWhereShared<T extends { readonly container?: string; readonly name: string }>(variables: T[]): T[] {
  const count = new Map<string, number>();
  for (const v of variables) count.set(v.name, (count.get(v.name) ?? 0) + 1);
  return variables.map((v) => {
    if (v.container === undefined || count.get(v.name) !== 1) return v;
    const { container, ...byName } = v;
    void container;
    return byName as T;
  });
}

/** What stands for the variables past the cap: no name in CODE_LOADING_ENV, so no variable read has it. */
export const MORE_CODE_LOADING_VARIABLES = '(more)';
/** How many variables are named one by one before the rest are kept as MORE_CODE_LOADING_VARIABLES. */
export const NAMED_CODE_LOADING_VARIABLES = MAX_VARIABLES - 1;

/**
 * At most MAX_VARIABLES variables: those that load code first (in the order written), so that no number of others
 * (sidecars setting `NODE_OPTIONS=--max-old-space-size=...`) pushes one out; those past the cap are kept as one
 * (MORE_CODE_LOADING_VARIABLES), their names shown, its digest of all of theirs, loading code when one of them does:
 * a variable past the cap that is set or changed changes it, and is reported as it.
 */
function capCodeLoading(variables: CodeLoadingVar[]): readonly CodeLoadingVar[] {
  if (variables.length <= MAX_VARIABLES) return variables;
  const ordered = [...variables.filter((v) => v.loadsCode), ...variables.filter((v) => !v.loadsCode)];
  const rest = ordered.slice(MAX_VARIABLES - 1);
  const named = rest.map(envVarName);
  return [
    ...ordered.slice(0, MAX_VARIABLES - 1),
    {
      name: MORE_CODE_LOADING_VARIABLES,
      value: cutText(named.join(' '), MAX_SHOWN_VALUE_LENGTH),
      digest: foldedDigest(rest),
      loadsCode: rest.some((v) => v.loadsCode),
    },
  ];
}

/** The digest of MORE_CODE_LOADING_VARIABLES when `variables` are those folded into it. */
export function foldedDigest(variables: readonly CodeLoadingVar[]): string {
  return digestOf(variables.map(codeLoadingKey).sort().join(','));
}

/** SHA-256, 22 base64url characters: whoever writes a value must not be able to give a new one the digest of the old. */
function digestOf(text: string): string {
  return hash('sha256', text, 'base64url').slice(0, 22);
}

/**
 * Interpreter option variables whose usual values only tune the runtime (`NODE_OPTIONS=--max-old-space-size=4096`,
 * `JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75`): they load code only with one of these options (a module or agent to
 * load, a class path, a command to run on an error). Every other CODE_LOADING_ENV variable loads code whatever its
 * value (a library to preload, a start-up file, a search path).
 */
const CODE_LOADING_OPTIONS: Readonly<Record<string, RegExp>> = {
  // Node takes `_` for `-` in option names (`--experimental_loader`).
  // `--openssl-config` names an OpenSSL configuration, whose modules load as shared libraries (as OPENSSL_CONF).
  NODE_OPTIONS: /(?:^|\s)(?:-r|--require|--import|--loader|--experimental[-_]loader|--openssl[-_]config)(?:[=\s]|$)/,
  JAVA_TOOL_OPTIONS: JAVA_CODE_OPTIONS(),
  _JAVA_OPTIONS: JAVA_CODE_OPTIONS(),
  JDK_JAVA_OPTIONS: JAVA_CODE_OPTIONS(),
  OPENJ9_JAVA_OPTIONS: JAVA_CODE_OPTIONS(),
  IBM_JAVA_OPTIONS: JAVA_CODE_OPTIONS(),
  JAVA_OPTS: JAVA_CODE_OPTIONS(),
  CATALINA_OPTS: JAVA_CODE_OPTIONS(),
  // A filter whose category (its third field) is in antigravity, which Python imports to find it: its import opens a
  // web browser, which runs the BROWSER variable's command. Any other module imported so is code the image holds
  // (`ignore::urllib3.exceptions.InsecureRequestWarning`, a common setting, is no finding).
  PYTHONWARNINGS: /(?:^|,)[^,:]*:[^,:]*:\s*antigravity\./,
  // Perl reads each word of PERL5OPT as a switch, its dash or not (`Mstrict;system(...)` runs code).
  PERL5OPT: /(?:^|\s)-?[MmdI]/,
  // Ruby puts a `-` before each word that has none (ruby.c moreswitches) and reads on after a switch that takes no
  // argument, or one letter (-K), in the same word (`-wrx`, `-W0Ix`, `-KUrx`). The letter after K is no white space:
  // with any character the switches ran on past the word, and each word re-read all the words after it.
  RUBYOPT: /(?:^|\s)-?(?:[wvdUW0-9]|K\S)*[rI]/,
};

/**
 * Also `-Xrun<lib>`, the older `-agentlib:<lib>`, `--patch-module` (classes from a path in place of a module's; the
 * launcher takes it with a space), and options read from a file (`-XX:VMOptionsFile=`, `-XX:Flags=`, OpenJ9's
 * `-Xoptionsfile=`, and the launcher's `@argfiles` in JDK_JAVA_OPTIONS), which may hold any of them.
 */
function JAVA_CODE_OPTIONS(): RegExp {
  return /(?:^|\s)(?:-javaagent:|-agentpath:|-agentlib:|-Xrun|-Xbootclasspath|-XX:OnOutOfMemoryError|-XX:OnError|-XX:VMOptionsFile=|-XX:Flags=|-Xoptionsfile=|--patch-module(?:[=\s]|$)|@|-cp(?:\s|$)|-classpath|--class-path|-Djava\.system\.class\.loader=)/;
}

/**
 * A variable's value as written, or undefined when a Secret Manager reference sets it. A value defaults to "" (Admin
 * API v1 and v2): a variable logged with neither a value nor a source is set empty.
 */
function literalValue(variable: JsonObject | undefined): string | undefined {
  return asString(variable?.['value']) ?? (field(variable, 'valueFrom') === undefined && field(variable, 'valueSource') === undefined ? '' : undefined);
}

/**
 * Whether an environment variable as logged (`{name, value}` or with a Secret Manager source) makes the runtime load
 * code: a CODE_LOADING_ENV name with a value that loads code (loadsCode), or set from a secret (its value is not in
 * the entry). Only the verdict leaves here, never the value.
 */
export function variableLoadsCode(variable: JsonObject | undefined): boolean {
  const name = asString(variable?.['name']);
  if (!name || !CODE_LOADING_ENV.has(name)) return false;
  const value = literalValue(variable);
  return value === undefined || loadsCode(name, value);
}

/** Whether `value` of CODE_LOADING_ENV variable `name` makes the runtime load code (CODE_LOADING_OPTIONS). */
export function loadsCode(name: string, value: string): boolean {
  const options = CODE_LOADING_OPTIONS[name];
  return options === undefined ? value.trim() !== '' : codeLoadingOptionAt(options, value) !== undefined;
}

/**
 * Where in `value` the first option that loads code (`options`) starts, with any quote before it. Quotes and
 * backslashes only group and escape, wherever they are: node drops `"` from NODE_OPTIONS and takes `\x` inside them
 * for `x` (`"--require" x`, `--re"quire" x`, `"--re\quire" x`), the JVM drops `"` and `'` from JAVA_TOOL_OPTIONS;
 * read without them, the option shows. (Dropping them where a runtime would not only finds more.)
 */
function codeLoadingOptionAt(options: RegExp, value: string): number | undefined {
  const match = options.exec(value.replace(GROUPING, ''));
  if (!match) return undefined;
  // The match's start, past the white space before it, counted in the value with its quotes.
  let plain = match.index + (/^\s/.test(match[0]) ? 1 : 0);
  let at = 0;
  for (; at < value.length && (plain > 0 || isGrouping(value[at]!)); at++) if (!isGrouping(value[at]!)) plain--;
  while (at > 0 && isGrouping(value[at - 1]!)) at--;
  return at;
}

const GROUPING = /["'\\]/g;
function isGrouping(char: string): boolean {
  return char === '"' || char === "'" || char === '\\';
}

/**
 * A value as findings show it (secrets hidden already): whole up to MAX_SHOWN_VALUE_LENGTH, else cut with `…`; an
 * option that loads code past the cut is shown from where it starts (`…--require x`), so that padding (white space,
 * a long `--title=`) cannot leave the reader a value that seems to load nothing.
 */
function shownValue(name: string, value: string): string {
  if (value.length <= MAX_SHOWN_VALUE_LENGTH) return value;
  const options = CODE_LOADING_OPTIONS[name];
  const at = options ? codeLoadingOptionAt(options, value) : undefined;
  if (at !== undefined && at > MAX_SHOWN_VALUE_LENGTH / 2) return `…${truncatePlain(value.slice(at), MAX_SHOWN_VALUE_LENGTH - 1)}`;
  return truncatePlain(value, MAX_SHOWN_VALUE_LENGTH);
}

/** The Secret Manager secret (and version or key) a variable is set from: v1 `valueFrom.secretKeyRef`, v2 `valueSource.secretKeyRef`. */
function secretReference(variable: JsonObject | undefined): string | undefined {
  const ref = asObject(field(asObject(field(variable, 'valueFrom')), 'secretKeyRef')) ?? asObject(field(asObject(field(variable, 'valueSource')), 'secretKeyRef'));
  if (!ref) return undefined;
  const secret = asString(ref['name']) ?? asString(field(ref, 'secret'));
  const version = asString(ref['key']) ?? asString(field(ref, 'version'));
  return secret ? `${secret}${version ? `:${version}` : ''}` : undefined;
}

const NO_CODE_LOADING: readonly CodeLoadingVar[] = Object.freeze([]);
