// Loads and validates the configuration once, failing closed: every problem is reported as `path: reason`,
// all at once, and nothing unknown is silently accepted (additionalProperties: false in the schema).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node, type YAMLError } from 'yaml';
import picomatch from 'picomatch';
import { validate as generatedValidator } from './configValidator.generated.js';
import { asArray, asObject, type JsonObject } from '../audit/json.js';
import type { RunwatchConfig } from './types.js';
import { configuredSeverity, SEVERITIES, severityRank, type Severity } from '../findings/finding.js';
import { RULE_SEVERITIES, type RuleSeverities } from '../detectors/severities.js';
import { cutText } from '../untrustedText.js';
import { bucketGlobOf } from './glob.js';
import { nearestName } from '../nearestName.js';
import { freezeInstant } from './freezeTime.js';
import { timeZoneProblem } from './timeZone.js';
import { repositoryGlob } from '../audit/image.js';

export interface ConfigProblem {
  /** JSON path of the offending value, e.g. `rules.off-window-deploy.exceptions[0]` (`(root)` for the document). */
  readonly path: string;
  readonly reason: string;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(`invalid config ${source}:\n${problems.map((p) => `  ${p.path}: ${p.reason}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * The config file could not be read (no such file, no permission, a folder): an I/O failure, which the CLI exits 1
 * on (2 is for an invalid config). Still a ConfigError, so the functions list it with their other start-up problems.
 */
export class ConfigUnreadableError extends ConfigError {
  constructor(
    source: string,
    readonly failure: string,
  ) {
    super(source, [{ path: '(root)', reason: `cannot read file: ${failure}` }]);
    this.name = 'ConfigUnreadableError';
  }
}

/**
 * schemas/config.schema.json compiled by ajv ahead of time (scripts/generate-config-validator.mjs, which also holds
 * the options: all errors, defaults, verbose errors, strict): compiling it at start-up took 120-130 ms.
 */
const validateSchema = generatedValidator as ValidateFunction;

/** Parses YAML or JSON text (JSON is YAML), validates it and returns the config with defaults filled in. */
export function parseConfig(text: string, source = 'config'): RunwatchConfig {
  const { data, yamlProblems, written } = readConfigText(text, source);
  return checked(data, source, yamlProblems, written);
}

/**
 * The unquoted values of a config's text that YAML typed otherwise than they read, by JSON path, as written: a
 * number or timestamp that was not written as one (a `%YAML 1.1` file reads `17:00` in base 60, `2024-12-20` as a
 * timestamp), a string YAML 1.1 would have read as a boolean (`off`, `yes`), or nothing at all (a key whose settings
 * are commented out: null). A schema reason about the value YAML made ("must be string" of 1020) is said of what
 * the file shows instead.
 */
export type WrittenScalars = ReadonlyMap<string, string>;

const NO_WRITTEN_SCALARS: WrittenScalars = new Map();

/** The words YAML 1.1 reads as booleans that YAML 1.2 (the yaml library's default) keeps as strings. */
const YAML_11_BOOLEAN_WORDS = /^(y|yes|n|no|on|off)$/i;
const YAML_11_TRUE_WORDS = /^(y|yes|on)$/i;

/** The unquoted scalars under `node` that YAML typed otherwise than they read (see WrittenScalars). */
function writtenScalars(node: unknown, path: string, out: Map<string, string>): Map<string, string> {
  if (isMap(node)) {
    for (const pair of node.items) writtenScalars(pair.value, join(path, isScalar(pair.key) ? String(pair.key.value) : String(pair.key)), out);
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => writtenScalars(item, `${path === '(root)' ? '' : path}[${i}]`, out));
  } else if (isScalar(node) && node.type === 'PLAIN' && typeof node.source === 'string') {
    const { value, source: text } = node;
    // Also a key with nothing after it (an empty value, null): what is left when everything under it is commented out.
    const retyped =
      typeof value === 'string'
        ? YAML_11_BOOLEAN_WORDS.test(text)
        : value === null
          ? text === ''
          : (typeof value === 'number' || typeof value === 'boolean' || value instanceof Date) && String(value) !== text;
    if (retyped) out.set(path, text);
  }
  return out;
}

/**
 * The data of a config file's text, read as validate-config reads it (merge keys, at most 100 aliases), not yet
 * checked against the schema, with its unquoted values YAML typed otherwise than they read (WrittenScalars: for the
 * schema's reasons about them); throws a ConfigError when the text is no YAML. A duplicate key is not thrown: it is
 * returned as a problem, so that one run reports it with the schema's problems.
 */
export function readConfigText(text: string, source = 'config'): { data: unknown; yamlProblems: ConfigProblem[]; written: WrittenScalars } {
  if (text.trim() === '') return { data: {}, yamlProblems: [], written: NO_WRITTEN_SCALARS };
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, merge: true, logLevel: 'error', lineCounter: lines });
  const yamlProblems = doc.errors.map((error) => ({
    path: error.code === 'DUPLICATE_KEY' ? pathAt(doc.contents, error.pos[0], '(root)') : '(root)',
    reason: `not valid YAML or JSON: ${yamlMessage(error)}`,
  }));
  // Every error at once, each with its line. A duplicate key leaves the structure whole (the later value is read),
  // so the schema's checks still run and one run of validate-config shows everything; any other error does not.
  if (doc.errors.some((error) => error.code !== 'DUPLICATE_KEY')) throw new ConfigError(source, yamlProblems);
  const references = referenceProblems(doc, lines);
  if (references.length > 0) throw new ConfigError(source, [...yamlProblems, ...references]);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // An alias bomb or a merge key whose value is no mapping.
    throw new ConfigError(source, [...yamlProblems, { path: '(root)', reason: `not valid YAML or JSON: ${firstLine(error instanceof Error ? error.message : String(error))}` }]);
  }
  return { data: data ?? {}, yamlProblems, written: writtenScalars(doc.contents, '(root)', new Map()) };
}

/**
 * The aliases that name no anchor set before them (`*comon` for `&common`, or an alias above its anchor), and the
 * merge keys (`<<`) whose value is no mapping, an alias of one or a list of them, each at its setting's path with
 * its line and column, in the file's order. The yaml library finds both only as it builds the data, and threw on the
 * first without saying where ("Unresolved alias (the anchor must be set before the alias): comon").
 */
function referenceProblems(doc: Document, lines: LineCounter): ConfigProblem[] {
  const found: { offset: number; path: string; reason: string }[] = [];
  const report = (offset: number, pathOffset: number, reason: string): void => {
    const { line, col } = lines.linePos(offset);
    found.push({ offset, path: pathAt(doc.contents, pathOffset, '(root)'), reason: `not valid YAML or JSON: ${reason} at line ${line}, column ${col}` });
  };
  visit(doc, {
    Alias(_key, alias) {
      if (alias.resolve(doc) === undefined && alias.range) report(alias.range[0], alias.range[0], `alias *${alias.source} names no anchor &${alias.source} set before it`);
    },
    Pair(_key, pair) {
      if (!isScalar(pair.key) || typeof pair.key.value !== 'symbol' || !pair.key.range) return; // `<<`, read as a merge key
      const bad = notMergeable(doc, pair.value);
      if (bad === undefined) return;
      const offset = bad?.range?.[0] ?? pair.key.range[0]; // no value at all: the key's place
      report(offset, pair.key.range[0], 'a merge key (<<) takes a mapping, an alias of one, or a list of them');
    },
  });
  return found.sort((a, b) => a.offset - b.offset).map(({ path, reason }) => ({ path, reason }));
}

/**
 * What in a merge key's value is no mapping: undefined when all is (an alias naming no anchor counts as one: it is
 * reported as such), null for no value at all, else the first node that is not.
 */
function notMergeable(doc: Document, value: unknown): Node | null | undefined {
  if (value === null || value === undefined) return null;
  const items = isSeq(value) ? value.items : [value];
  return items.find((item): item is Node => {
    const source = isAlias(item) ? item.resolve(doc) : item;
    return isAlias(item) ? source !== undefined && !isMap(source) : !isMap(item);
  });
}

/**
 * A yaml library error in the config's terms. A second document is worded for the library's caller ("please use
 * YAML.parseAllDocuments()"), which a user writing a config is not: it is said what the file holds instead.
 */
function yamlMessage(error: YAMLError): string {
  const at = error.linePos?.[0];
  if (error.code === 'MULTIPLE_DOCS' && at) return `a config file is one YAML document: a second one starts at line ${at.line}, column ${at.col} (a "---" line)`;
  return firstLine(error.message);
}

/**
 * The first line of a yaml library message, without the colon that introduced its excerpt of the file (not quoted:
 * the config may hold what should not be echoed into logs).
 */
function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/:\s*$/, '');
}

/** The JSON path of the deepest mapping key or list item whose text holds `offset`. */
function pathAt(node: unknown, offset: number, path: string): string {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isNode(pair.key) ? pair.key : undefined;
      const value = isNode(pair.value) ? pair.value : undefined;
      const start = key?.range?.[0];
      const end = value?.range?.[2] ?? key?.range?.[2];
      if (start === undefined || end === undefined || offset < start || offset >= end) continue;
      // A merge key's value is the symbol the yaml library reads `<<` as: named as written.
      return pathAt(value, offset, join(path, isScalar(key) ? (typeof key.value === 'symbol' ? '<<' : String(key.value)) : String(pair.key)));
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      const range = isNode(item) ? item.range : undefined;
      if (range && offset >= range[0] && offset < range[2]) return pathAt(item, offset, `${path === '(root)' ? '' : path}[${i}]`);
    }
  }
  return path;
}

/**
 * Validates parsed config data; `earlier`: problems already found in its text (readConfigText), reported first;
 * `written`: its unquoted values as written (readConfigText), for the reasons about them.
 */
export function validateConfig(data: unknown, source = 'config', earlier: readonly ConfigProblem[] = [], written: WrittenScalars = NO_WRITTEN_SCALARS): RunwatchConfig {
  return checked(data, source, earlier, written);
}

/** Validates `data`, reporting `earlier` problems (from the YAML) first; throws a ConfigError listing them all. */
function checked(data: unknown, source: string, earlier: readonly ConfigProblem[], written: WrittenScalars = NO_WRITTEN_SCALARS): RunwatchConfig {
  const copy = unshared(data);
  if (copy === TOO_LARGE) throw new ConfigError(source, [...earlier, { path: '(root)', reason: `more than ${MAX_NODES} values (aliases included)` }]);
  const problems: ConfigProblem[] = [];
  if (!validateSchema(copy)) problems.push(...schemaProblems(validateSchema.errors ?? [], written));
  // Every problem at once: the checks beyond the schema run on whatever parts have the right shape, and say
  // nothing more about a value the schema already rejected, nor about a whole (a window, a freeze) from a part of it
  // they read that the schema rejected ("25:00" to "25:00" is two bad times, not an empty window).
  const rejected = problems.map((p) => p.path);
  const rejectedInput = (input: string): boolean => rejected.some((path) => within(input, path) || within(path, input));
  problems.push(
    ...semanticProblems(copy)
      .filter((p) => !rejected.some((path) => within(p.path, path)) && !(p.inputs ?? []).some(rejectedInput))
      .map(({ path, reason }) => ({ path, reason })),
  );
  // The Slack routing check reads the whole section and every rule's `enabled`: not run on a section or rule the
  // schema rejected a part of (a misspelt severity key would read as a severity without a channel).
  // A section with no channel at all is told from its channel settings alone, whatever the rules, its minSeverity or
  // its rules list say; not where the schema rejected a channel setting or a key it does not know (a misspelt
  // `channel`): that problem is the missing channel.
  const slackInputs = ['sinks.slack', ...Object.keys(objectOr(objectOr(copy)['rules'])).map((rule) => `rules.${rule}.enabled`)];
  const rejectedInputs = (inputs: readonly string[]): boolean => rejected.some((path) => inputs.some((input) => within(path, input) || within(input, path)));
  const channelsRejected = rejected.some((path) => within('sinks.slack', path) || (within(path, 'sinks.slack') && !SLACK_SETTINGS_BESIDE_CHANNELS.some((setting) => within(path, setting))));
  const slackProblem = rejectedInputs(['sinks.slack'])
    ? channelsRejected
      ? undefined
      : slackChannelProblem(objectOr(copy))
    : rejectedInputs(slackInputs)
      ? slackChannelProblem(objectOr(copy))
      : slackRoutingProblem(objectOr(copy));
  if (slackProblem) problems.push(slackProblem);
  if (earlier.length > 0 || problems.length > 0) throw new ConfigError(source, [...earlier, ...problems]);
  return deepFreeze(copy as RunwatchConfig);
}

export async function loadConfigFile(path: string): Promise<RunwatchConfig> {
  let text: string;
  try {
    text = configText(await readFile(path));
  } catch (error) {
    throw new ConfigUnreadableError(path, readFailure(error as NodeJS.ErrnoException));
  }
  return parseConfig(text, path);
}

/**
 * A config file's bytes as text: UTF-8, or UTF-16 when a UTF-16 byte order mark opens it (Windows PowerShell 5.1
 * writes UTF-16LE with one for `>` and Out-File; replay reads log files so too). Read as UTF-8, such a file was
 * "(root): must be object".
 */
export function configText(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes);
  return bytes.toString('utf8');
}

/**
 * Why a file could not be read, in words (`ENOENT: no such file or directory`): Node's message without the system
 * call and the path it ends with (the caller names the file). The bare code left the user to look it up.
 */
function readFailure(error: NodeJS.ErrnoException): string {
  if (!error.code) return String(error);
  const words = new RegExp(`^${error.code}: ([^,]+)`).exec(error.message)?.[1];
  return words ? `${error.code}: ${words}` : error.code;
}

/** The defaults alone, for replay without --config. */
export function defaultConfig(): RunwatchConfig {
  return validateConfig({}, 'defaults');
}

const MAX_NODES = 100_000;
const TOO_LARGE = Symbol('too large');

/**
 * A copy in which no object or array is reachable by two paths. YAML aliases give one JS object at every place
 * they are used, and ajv fills defaults in place: the defaults of one place (trustedRepositories under
 * new-image-repository) would appear at the other, as unknown keys or as settings it never had. A cycle (an alias
 * inside its own anchor) is kept as it is; the yaml parser bounds how far aliases expand, the node budget does the
 * same for objects built in code.
 */
function unshared(data: unknown): unknown {
  let nodes = 0;
  const ancestors = new Set<object>();
  const copy = (value: unknown): unknown => {
    if (++nodes > MAX_NODES) throw TOO_LARGE;
    if (value === null || typeof value !== 'object') return value;
    const plain = Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null;
    if (!plain) return structuredClone(value);
    if (ancestors.has(value)) return value;
    ancestors.add(value);
    try {
      // fromEntries defines own properties: a `__proto__` key stays a key (and is reported as unknown).
      return Array.isArray(value) ? value.map(copy) : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]));
    } finally {
      ancestors.delete(value);
    }
  };
  try {
    return copy(data);
  } catch (error) {
    if (error === TOO_LARGE) return TOO_LARGE;
    throw error;
  }
}

function pointerToPath(pointer: string): string {
  if (pointer === '') return '(root)';
  let out = '';
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out;
}

function join(path: string, key: string): string {
  return path === '(root)' ? key : `${path}.${key}`;
}

/** The key the schema allows at that place nearest to a misspelt `key` (an edit per four letters at most). */
function keyMeant(key: string, allowed: readonly string[]): string | undefined {
  // The same words in another case or with other separators (offWindowDeploy, PUBLIC_INVOKER_GRANT), however many edits away.
  const words = (name: string): string => name.toLowerCase().replace(/[-_]/g, '');
  return allowed.find((name) => words(name) === words(key)) ?? nearestName(key, allowed, 4);
}

/** Why a list is too short. A sink's empty `rules` reads as "no filter" to many; it would send nothing. */
function emptyListReason(path: string, limit: number): string {
  const sink = /^sinks\.([^.]+)\.rules$/.exec(path)?.[1];
  if (sink !== undefined) return `an empty list sends nothing to this sink: leave rules out to send it every rule, or remove sinks.${sink} to send it none`;
  return limit === 1 ? 'must list at least one' : `must list at least ${String(limit)}`;
}

/**
 * The allowed value a string outside the list meant: the same in another case (`high`), the start of a longer word
 * (`Monday`), or one edit per four letters off in any case (`CRITCAL`).
 */
function valueMeant(value: unknown, allowed: readonly string[]): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const lower = value.toLowerCase();
  const same = allowed.find((name) => name.toLowerCase() === lower);
  if (same !== undefined) return same;
  const starts = allowed.filter((name) => name.length >= 3 && lower.startsWith(name.toLowerCase()));
  if (starts.length === 1) return starts[0];
  const near = nearestName(lower, allowed.map((name) => name.toLowerCase()), 4);
  return near === undefined ? undefined : allowed.find((name) => name.toLowerCase() === near);
}

/** An unknown key's reason: the key meant, else, for a rule id, the rule ids (as an unknown sink rule lists them). */
function unknownKeyReason(path: string, key: string, error: ErrorObject): string {
  const allowed = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
  const meant = keyMeant(key, allowed);
  if (meant !== undefined) return `unknown key; did you mean ${meant}?`;
  return path === 'rules' ? `unknown rule; the rules are ${allowed.join(', ')}` : 'unknown key';
}

/** Each item of `list` that repeats an earlier one, with the earlier one's index (by JSON text). */
function repeatsIn(list: readonly unknown[]): { first: number; repeat: number }[] {
  const firstAt = new Map<string, number>();
  const repeats: { first: number; repeat: number }[] = [];
  for (const [i, item] of list.entries()) {
    const key = JSON.stringify(item) ?? String(item);
    const first = firstAt.get(key);
    if (first === undefined) firstAt.set(key, i);
    else repeats.push({ first, repeat: i });
  }
  return repeats;
}

/** A pattern's format in words (the schema node's `title`), else the pattern itself. */
function formatName(error: ErrorObject): string {
  const title = (error.parentSchema as { title?: unknown } | undefined)?.title;
  return typeof title === 'string' ? title : `in the expected format ${String(error.params['pattern'])}`;
}

/**
 * The errors of `oneOf` alternatives told apart by type (a label name, or a list of them), read as one: when an
 * alternative of the right type failed on its own terms (an empty list, a bad element), only its errors count;
 * when none has the right type, one error says which types would do. Without this a number reported both
 * "must be string" and "must be array", and a bad list element also "must be string" at the list itself.
 */
function oneOfAlternatives(errors: readonly ErrorObject[]): ErrorObject[] {
  const dropped = new Set<ErrorObject>();
  const merged = new Map<ErrorObject, ErrorObject>();
  for (const oneOf of errors.filter((e) => e.keyword === 'oneOf')) {
    // A $ref'd oneOf has one schemaPath wherever it is used: the value's path tells its uses apart.
    const alternatives = errors.filter(
      (e) => e !== oneOf && e.schemaPath.startsWith(`${oneOf.schemaPath}/`) && (e.instancePath === oneOf.instancePath || e.instancePath.startsWith(`${oneOf.instancePath}/`)),
    );
    const wrongType = alternatives.filter((e) => e.keyword === 'type' && e.instancePath === oneOf.instancePath);
    if (wrongType.length === 0) continue;
    for (const e of wrongType) dropped.add(e);
    if (wrongType.length === alternatives.length) {
      const types = wrongType.map((e) => String(e.params['type']));
      merged.set(wrongType[0]!, { ...wrongType[0]!, message: `must be ${types.join(' or ')}` });
    }
  }
  return errors.flatMap((e) => merged.get(e) ?? (dropped.has(e) ? [] : [e]));
}

function schemaProblems(all: readonly ErrorObject[], written: WrittenScalars): ConfigProblem[] {
  const errors = oneOfAlternatives(all);
  const problems: ConfigProblem[] = [];
  // anyOf branches report one `required` error each; collapse them into one readable reason per path.
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  for (const error of errors) {
    // A bad key of a map (propertyNames) is reported at the key itself; the summary error adds nothing.
    const propertyName = (error as ErrorObject & { propertyName?: string }).propertyName;
    const path = propertyName === undefined ? pointerToPath(error.instancePath) : join(pointerToPath(error.instancePath), propertyName);
    if (error.keyword === 'required' && anyOfPaths.has(error.instancePath)) continue;
    if (error.keyword === 'oneOf' || error.keyword === 'if' || error.keyword === 'propertyNames') continue;
    switch (error.keyword) {
      case 'additionalProperties': {
        const key = String(error.params['additionalProperty']);
        problems.push({ path: join(path, key), reason: unknownKeyReason(path, key, error) });
        break;
      }
      case 'required':
        problems.push({ path: join(path, String(error.params['missingProperty'])), reason: 'is required' });
        break;
      case 'enum': {
        const allowed = error.params['allowedValues'] as unknown[];
        const meant = valueMeant(valueAt(error), allowed.filter((v): v is string => typeof v === 'string'));
        problems.push({ path, reason: `must be one of ${allowed.join(', ')}${meant === undefined ? '' : `; did you mean ${meant}?`}` });
        break;
      }
      case 'anyOf': {
        const needed = errors
          .filter((e) => e.keyword === 'required' && e.instancePath === error.instancePath)
          .map((e) => String(e.params['missingProperty']));
        problems.push({ path, reason: needed.length ? `needs at least one of ${needed.join(', ')}` : (error.message ?? 'invalid') });
        break;
      }
      // ajv's words for these are a schema author's ("must NOT have duplicate items (items ## 0 and 2 are identical)").
      case 'uniqueItems': {
        // ajv names one pair (the last it finds); every repeat is named, each with the item's first place.
        const list = valueAt(error);
        const repeats = Array.isArray(list) ? repeatsIn(list) : [];
        if (repeats.length === 0) repeats.push({ first: Number(error.params['j']), repeat: Number(error.params['i']) });
        for (const { first, repeat } of repeats) {
          const item = (list as unknown[] | undefined)?.[repeat];
          problems.push({ path: `${path}[${repeat}]`, reason: `${JSON.stringify(truncate(item))} is listed twice (also at ${path}[${first}])` });
        }
        break;
      }
      case 'minItems':
        problems.push({ path, reason: emptyListReason(path, Number(error.params['limit'])) });
        break;
      case 'minLength':
        problems.push({ path, reason: Number(error.params['limit']) === 1 ? 'must not be empty' : `must be at least ${String(error.params['limit'])} characters` });
        break;
      case 'maxLength': {
        const value = valueAt(error);
        // Characters as the schema counts them: code points, not UTF-16 units.
        const has = typeof value === 'string' ? ` (it has ${[...value].length})` : '';
        problems.push({ path, reason: `must be at most ${String(error.params['limit'])} characters${has}` });
        break;
      }
      case 'pattern':
        // The schema's `title` says the format in words; a regular expression is no help to a reader.
        problems.push({ path, reason: `${JSON.stringify(truncate(valueAt(error)))} is not ${formatName(error)}` });
        break;
      case 'type': {
        // Said of the value as the file shows it, where YAML typed it otherwise (`enabled: off`, 1.1's `17:00`).
        const reason = error.message ?? error.keyword;
        const text = written.get(path);
        const read = text === undefined ? undefined : asWritten(error, text, path.endsWith(']'));
        problems.push({ path, reason: read === undefined ? reason : `${reason}: ${read}` });
        break;
      }
      default:
        problems.push({ path, reason: error.message ?? error.keyword });
    }
  }
  return dedupe(problems);
}

/**
 * What YAML read an unquoted value (a list item's, when `listItem`) as, said of the text the file shows, with what to
 * write; undefined when the type error has nothing to do with how YAML typed it.
 */
function asWritten(error: ErrorObject, text: string, listItem: boolean): string | undefined {
  const value = valueAt(error);
  const shown = String(truncate(text));
  if (error.params['type'] === 'boolean' && typeof value === 'string' && YAML_11_BOOLEAN_WORDS.test(text)) {
    return `YAML 1.2 reads ${shown}, unquoted, as the string ${JSON.stringify(value)} (its booleans are true and false): write ${YAML_11_TRUE_WORDS.test(text) ? 'true' : 'false'}`;
  }
  if (value === null && text === '') {
    const empty = error.params['type'] === 'object' ? '{}' : error.params['type'] === 'array' ? '[]' : 'a value';
    const where = listItem ? 'a "-" with nothing after it' : 'nothing follows the key, or all under it is commented out';
    return `it has no value (${where}), which YAML reads as null: write ${empty}, or remove the ${listItem ? 'item' : 'key'}`;
  }
  if (typeof value === 'string' || value === null || value === undefined) return undefined;
  const why =
    value instanceof Date
      ? ' (YAML 1.1 reads a date as a timestamp, one without a zone in UTC rather than in timezone)'
      : typeof value === 'boolean'
        ? ' (YAML 1.1 reads yes, no, on and off as booleans)'
        : text.includes(':')
          ? ' (YAML 1.1 reads numbers separated by colons in base 60)'
          : '';
  // A window time as the schema takes it: two-digit hours (9:00 is written "09:00").
  const quoted = error.schemaPath === '#/definitions/time/type' && /^\d:[0-5]\d$/.test(text) ? `0${text}` : shown;
  return `YAML read ${shown}, unquoted, as ${typedValue(value)}${why}: quote it, ${JSON.stringify(quoted)}`;
}

/** A value YAML typed, in words: `the number 1020`, `the timestamp 2024-12-20T00:00:00.000Z`. */
function typedValue(value: unknown): string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'a timestamp' : `the timestamp ${value.toISOString()}`;
  return `the ${typeof value} ${String(truncate(String(value)))}`;
}

function valueAt(error: ErrorObject): unknown {
  return (error as ErrorObject & { data?: unknown }).data;
}

function truncate(value: unknown): unknown {
  return typeof value === 'string' && value.length > 80 ? `${cutText(value, 77)}...` : value;
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** True when `path` is `parent` or lies inside it (`parent.x`, `parent[0]`); `(root)` holds everything. */
function within(path: string, parent: string): boolean {
  return parent === '(root)' || path === parent || path.startsWith(`${parent}.`) || path.startsWith(`${parent}[`);
}

const objectOr = (value: unknown): JsonObject => asObject(value) ?? {};

/** A problem found beyond the schema, with the values it read (`inputs`: paths) when they are not its own path. */
interface SemanticProblem extends ConfigProblem {
  readonly inputs?: readonly string[];
}

/**
 * Checks JSON Schema cannot express: the zone exists and is a place's clock (config/timeZone.ts), freezes are ordered, windows are not empty, globs compile
 * and can match, every rule a sink lists can reach it, provenance label names are label keys.
 * The document may have failed the schema: each check reads only values of the type it needs.
 */
function semanticProblems(document: unknown): SemanticProblem[] {
  const config = objectOr(document);
  const problems: SemanticProblem[] = [];
  const timezone = config['timezone'];
  const zoneProblem = typeof timezone === 'string' ? timeZoneProblem(timezone) : undefined;
  if (zoneProblem !== undefined) problems.push({ path: 'timezone', reason: zoneProblem });
  // Freezes are still read (in UTC when the zone is refused), so one run reports their problems too.
  const zone = typeof timezone === 'string' && zoneProblem === undefined ? timezone : 'UTC';
  asArray(config['freezes']).forEach((value, i) => {
    const freeze = objectOr(value);
    const start = typeof freeze['start'] === 'string' ? freezeInstant(freeze['start'], zone) : undefined;
    const end = typeof freeze['end'] === 'string' ? freezeInstant(freeze['end'], zone) : undefined;
    // The format passed the schema, so only the calendar is left (2024-02-30): said as replay's --since says it.
    if (start && !start.isValid) problems.push({ path: `freezes[${i}].start`, reason: `no such day or time: ${JSON.stringify(freeze['start'])}` });
    if (end && !end.isValid) problems.push({ path: `freezes[${i}].end`, reason: `no such day or time: ${JSON.stringify(freeze['end'])}` });
    if (start?.isValid && end?.isValid && end <= start) {
      problems.push({ path: `freezes[${i}]`, reason: 'end must be after start', inputs: [`freezes[${i}].start`, `freezes[${i}].end`] });
    }
  });
  const correlation = objectOr(config['correlation']);
  const fallback = objectOr(correlation['adminApiFallback']);
  const { waitSeconds } = correlation;
  if (fallback['enabled'] === true && typeof fallback['afterSeconds'] === 'number' && typeof waitSeconds === 'number' && fallback['afterSeconds'] >= waitSeconds) {
    problems.push({
      path: 'correlation.adminApiFallback.afterSeconds',
      reason: `must be less than correlation.waitSeconds (${waitSeconds}): the wait would complete the rollout before the Admin API is read`,
      inputs: ['correlation.waitSeconds', 'correlation.adminApiFallback.enabled'],
    });
  }
  asArray(config['changeWindows']).forEach((value, i) => {
    const window = objectOr(value);
    if (window['start'] === '24:00') problems.push({ path: `changeWindows[${i}].start`, reason: 'a window cannot start at 24:00 (the end of the day): use 00:00' });
    else if (typeof window['start'] === 'string' && window['start'] === window['end']) {
      problems.push({ path: `changeWindows[${i}]`, reason: 'start and end are equal: an empty window', inputs: [`changeWindows[${i}].start`, `changeWindows[${i}].end`] });
    }
  });
  problems.push(...unreachableSinkRules(config), ...provenanceLabelProblems(config));
  for (const [rule, value] of Object.entries(objectOr(config['rules']))) {
    const settings = objectOr(value);
    asArray(settings['exceptions']).forEach((exception, i) => {
      for (const [field, kind] of [['principal', 'principal'], ['project', 'project'], ['service', 'service']] as const) {
        const glob = objectOr(exception)[field];
        const problem = typeof glob === 'string' ? globProblem(glob, kind, 'exception') : undefined;
        if (problem) problems.push({ path: `rules.${rule}.exceptions[${i}].${field}`, reason: problem });
      }
    });
    for (const [list, kind] of [['allowServices', 'service'], ['trustedRepositories', 'repository'], ['namePatterns', 'value'], ['allowNames', 'value'], ['allowedDeployers', 'principal'], ['allowedDomains', 'value'], ['allowMembers', 'value']] as const) {
      asArray(settings[list]).forEach((glob, i) => {
        const problem = typeof glob === 'string' ? (globProblem(glob, kind, 'glob') ?? memberGlobProblem(list, glob)) : undefined;
        if (problem) problems.push({ path: `rules.${rule}.${list}[${i}]`, reason: problem });
      });
    }
  }
  return problems;
}

/**
 * True for an allowedDomains glob that matches only a domain and its subdomains: whole-label wildcards (`*`, `**`) in
 * front of two labels or more with no glob character. `*acme.com` also matched evilacme.com, `acme.*` acme.evil.example
 * and `acme.*.com` acme.evil.com: domains an outsider can own.
 */
function ownDomainsOnly(glob: string): boolean {
  const labels = glob.split('.');
  const literal = labels.slice(labels.findIndex((label) => label !== '*' && label !== '**'));
  return labels.findIndex((label) => label !== '*' && label !== '**') >= 0 && literal.length >= 2 && literal.every((label) => /^[^*?[\]{}()!+@|,\\]+$/.test(label));
}

/**
 * The public suffix a glob's wildcard labels stand right in front of (`*.co.uk`: `co.uk`), or undefined: anyone can
 * register a domain under a public suffix (and so make a Google account for an email there, or name a bucket after
 * it). Single-label suffixes (`*.com`) fail ownDomainsOnly already; this finds `co.uk`, `com.au`, `github.io`.
 */
function wildcardOverPublicSuffix(glob: string): string | undefined {
  const labels = glob.split('.');
  const first = labels.findIndex((label) => label !== '*' && label !== '**');
  if (first <= 0) return undefined;
  const literal = labels.slice(first).join('.');
  return isPublicSuffix(literal) ? literal : undefined;
}

const require = createRequire(import.meta.url);
let publicSuffixes: typeof import('tldts') | undefined;

/**
 * True when `domain` is itself a public suffix of the Public Suffix List, ICANN and private sections alike (`co.uk`,
 * `github.io`; the list's `*` rule makes an unlisted top-level name one too). tldts is loaded on first use: only a
 * glob with a leading wildcard asks, and its list would add to every function's cold start.
 */
function isPublicSuffix(domain: string): boolean {
  publicSuffixes ??= require('tldts') as typeof import('tldts');
  return publicSuffixes.getPublicSuffix(domain, { allowPrivateDomains: true }) === domain.toLowerCase();
}

/**
 * Why an external-member-grant glob can match nothing (or, in allowedDomains, domains anyone can own), or undefined: allowedDomains is matched against a domain alone
 * (`acme.com`: what follows the `@` of a user: or group: member, or a domain: member itself), allowMembers against a
 * whole member, prefix included (`user:support@vendor.example`), and only user:, group: and domain: members are judged.
 */
function memberGlobProblem(list: string, glob: string): string | undefined {
  if (list === 'allowedDomains' && /[@:/\s]/.test(glob)) {
    return `${JSON.stringify(glob)} is matched against a member's domain alone (such as acme.com or *.acme.com), which has no @, :, / or white space: it can match none`;
  }
  if (list === 'allowedDomains' && !ownDomainsOnly(glob)) {
    const example = glob.replace(/\[[^\]]*\]/g, 'x').replace(/\*+/g, 'evil').replace(/\?/g, 'x');
    return `${JSON.stringify(glob)} also matches domains outside the organization (${example}), and a Google account can be made for an email at any domain: a wildcard may only stand for whole labels in front of a domain of two labels or more (*.acme.com), one domain a glob (list them one by one)`;
  }
  const suffix = list === 'allowedDomains' ? wildcardOverPublicSuffix(glob) : undefined;
  if (suffix !== undefined) {
    return `${JSON.stringify(glob)} also matches domains outside the organization (evil.${suffix}): ${suffix} is a public suffix, under which anyone can register a domain, and a Google account can be made for an email at any domain; name the organization's own domain (*.acme.${suffix})`;
  }
  if (list === 'allowMembers' && !/^(user|group|domain|[*?[{])/i.test(glob)) {
    return `${JSON.stringify(glob)} is matched against a whole member with its prefix (user:, group: or domain:, the only members judged), such as user:support@vendor.example: it can match none`;
  }
  return undefined;
}

/**
 * The rules a sink's `rules` list names whose findings can never reach its minSeverity, under the config's own
 * rules.<rule>.severity (findings/finding.ts configuredSeverity over every severity the rule gives, as listed in
 * detectors/severities.ts): the list says the sink takes them, and none would ever be delivered (nobody paged for
 * what the config says pages).
 */
function unreachableSinkRules(config: JsonObject): SemanticProblem[] {
  const rules = objectOr(config['rules']);
  const problems: SemanticProblem[] = [];
  for (const [sink, value] of Object.entries(objectOr(config['sinks']))) {
    const minSeverity = objectOr(value)['minSeverity'];
    if (!isSeverity(minSeverity)) continue;
    asArray(objectOr(value)['rules']).forEach((rule, i) => {
      if (typeof rule !== 'string' || !Object.hasOwn(RULE_SEVERITIES, rule)) return;
      const { defaultSeverity, severities } = (RULE_SEVERITIES as Readonly<Record<string, RuleSeverities>>)[rule]!;
      const configured = objectOr(rules[rule])['severity'];
      const highest = severities
        .map((detected) => configuredSeverity(defaultSeverity, isSeverity(configured) ? configured : undefined, detected))
        .reduce((a, b) => (severityRank(b) > severityRank(a) ? b : a));
      if (severityRank(highest) >= severityRank(minSeverity)) return;
      problems.push({
        path: `sinks.${sink}.rules[${i}]`,
        reason: `${rule}'s findings are at most ${highest}, below sinks.${sink}.minSeverity ${minSeverity}: none would reach this sink (set rules.${rule}.severity, or lower minSeverity)`,
        inputs: [`sinks.${sink}.minSeverity`, `rules.${rule}.severity`],
      });
    });
  }
  return problems;
}

/** A Google Cloud label key: a lower-case letter, then up to 62 lower-case letters, digits, `_` and `-` (any script). */
const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;

/**
 * provenanceLabels names no label can have: they are looked up among the revision's and the service's labels, whose
 * keys Google Cloud keeps to LABEL_KEY (and those with a `prefix/` are Cloud Run's own: audit/json.ts userLabels).
 * One written otherwise (GIT_COMMIT, as the environment variable is) matched nothing, and the commit was unknown.
 */
function provenanceLabelProblems(config: JsonObject): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  for (const [key, value] of Object.entries(objectOr(config['provenanceLabels']))) {
    const named: [string, unknown][] = typeof value === 'string' ? [[`provenanceLabels.${key}`, value]] : asArray(value).map((name, i) => [`provenanceLabels.${key}[${i}]`, name]);
    for (const [path, name] of named) {
      if (typeof name !== 'string' || name === '' || LABEL_KEY.test(name)) continue;
      const lower = name.toLowerCase();
      problems.push({
        path,
        reason: LABEL_KEY.test(lower)
          ? `${JSON.stringify(truncate(name))} can match no label: Google Cloud label keys are lower case (write ${lower})`
          : `${JSON.stringify(truncate(name))} can match no label: a Google Cloud label key is a lower-case letter, then up to 62 lower-case letters, digits, _ and -`,
      });
    }
  }
  return problems;
}

function isSeverity(value: unknown): value is Severity {
  return typeof value === 'string' && (SEVERITIES as readonly string[]).includes(value);
}

/**
 * A Slack section that leaves findings it accepts without a channel. Such a finding could never be posted: the
 * notify function would dead-letter it on every delivery, long after a deploy that looked fine. Every severity at
 * or above minSeverity counts for every enabled rule the section takes (a rule's findings may be raised above or
 * lowered below its default), so without a default `channel` each pair needs channelsByRule or channelsBySeverity.
 */
function slackRoutingProblem(config: JsonObject): ConfigProblem | undefined {
  const slack = asObject(objectOr(config['sinks'])['slack']);
  if (!slack || typeof slack['channel'] === 'string') return undefined;
  const noChannel = slackChannelProblem(config);
  if (noChannel) return noChannel;
  const rules = objectOr(config['rules']);
  const minSeverity = SEVERITIES.indexOf(slack['minSeverity'] as Severity);
  const bySeverity = objectOr(slack['channelsBySeverity']);
  const byRule = objectOr(slack['channelsByRule']);
  const taken = Array.isArray(slack['rules']) ? slack['rules'].filter((r): r is string => typeof r === 'string') : Object.keys(rules);
  const rulesWithout = taken.filter((rule) => objectOr(rules[rule])['enabled'] !== false && typeof byRule[rule] !== 'string');
  const severitiesWithout = SEVERITIES.slice(Math.max(minSeverity, 0)).filter((severity) => typeof bySeverity[severity] !== 'string');
  if (rulesWithout.length === 0 || severitiesWithout.length === 0) return undefined;
  return {
    path: 'sinks.slack',
    reason:
      `findings of ${rulesWithout.join(', ')} with severity ${severitiesWithout.join(', ')} have no channel and could never be posted: ` +
      `set channel (the default for the rest), add channelsBySeverity or channelsByRule entries for them, or raise minSeverity`,
  };
}

/** The keys of a Slack section that say nothing of its channels: a problem with them hides no missing channel. */
const SLACK_SETTINGS_BESIDE_CHANNELS = ['sinks.slack.minSeverity', 'sinks.slack.rules'] as const;

/** A Slack section with no channel at all: the Slack sink refuses to start whatever the section takes (sinks/index.ts). */
function slackChannelProblem(config: JsonObject): ConfigProblem | undefined {
  const slack = asObject(objectOr(config['sinks'])['slack']);
  if (!slack || typeof slack['channel'] === 'string') return undefined;
  if (asObject(slack['channelsBySeverity']) !== undefined || asObject(slack['channelsByRule']) !== undefined) return undefined;
  return { path: 'sinks.slack', reason: 'no channel: set channel (the default), or channelsBySeverity / channelsByRule' };
}

/** `**` alone in a path segment or brace alternative: picomatch reads it inside a name (`acme-**`) as `*`. */
const WHOLE_SEGMENT_GLOBSTAR = /(^|[/{,])\*\*($|[/},])/;

/** An IAM member prefix opening an alternative of a brace or extglob group, after optional white space. */
const MEMBER_PREFIX_IN_ALTERNATIVES = /[{,(|]\s*(user|serviceAccount|group|domain):/i;

/**
 * What a config glob is matched against: a principal, `PROJECT/SERVICE` (or `PROJECT/JOB`), a project (or `folders/F`,
 * `organizations/O`), an image repository, or any other value.
 */
type GlobKind = 'principal' | 'service' | 'project' | 'repository' | 'value';

/** The things a `service` or `project` glob is matched against, every one of them lower case, for a message. */
const LOWER_CASE_NAMES: Readonly<Record<'service' | 'project', string>> = {
  service: 'project id, service or job name',
  project: 'project id, folder or organization',
};

/**
 * Why a glob cannot do what it is written for, or undefined. picomatch never throws by default: an unbalanced `{`,
 * `(` or `[` became a literal or a pattern that matches nothing, so an exception or an allowed service silently
 * covered nothing. A `service` glob is matched against `PROJECT/SERVICE`, and since `*` does not cross `/`, one
 * without a `/` (or a `**` standing as a whole segment) can match no service at all, nor can one that needs two;
 * nor can a `service` or `project` glob with a capital (outside a class): all their names are lower case.
 * A `principal` glob for an IAM `group:` or `domain:` member matches nobody: an audit entry names the identity that
 * called (and those it acted through), never its groups.
 * A member prefix alone (`user:`) leaves picomatch an empty pattern, which it throws on when the rule first runs.
 * A leading `!` is picomatch's negation: in an allow list, trusted repositories or an exception, it allowed every
 * value but one (`!docker.io/*` trusted every other registry).
 */
function globProblem(glob: string, kind: GlobKind, each: 'exception' | 'glob'): string | undefined {
  const listed = listInOneGlob(glob, kind);
  if (listed) {
    const alternatives = alternativesOf(glob, kind);
    return `${JSON.stringify(glob)} has a comma outside {...}, which no ${listed} has: it can match none (write one ${each} each${alternatives ? `, or alternatives: ${alternatives}` : ''})`;
  }
  // White space a quoted value or a block scalar (`|`) kept: neither a project id nor a service name has any, nor
  // does a principal at its start or end.
  if (kind === 'service' && /\s/.test(glob)) return `${JSON.stringify(glob)} has white space, which no PROJECT/SERVICE has: it can match no service`;
  if (kind === 'project' && /\s/.test(glob)) return `${JSON.stringify(glob)} has white space, which no project id has: it can match none`;
  if (kind === 'principal' && /^\s|\s$/.test(glob)) return `${JSON.stringify(glob)} starts or ends with white space, which no principal does: it can match none`;
  if (kind === 'principal') {
    if (/^(group|domain):/i.test(glob)) {
      return 'a group: or domain: member never matches: audit logs name the caller itself (write user:*@example.com for everyone in a domain)';
    }
    const prefixOnly = /^(user|serviceAccount):$/i.exec(glob)?.[0];
    if (prefixOnly) return `names no principal after "${prefixOnly}" (write ${prefixOnly}* for every one of that kind)`;
    // Principals are compared without their member prefix (config/glob.ts principalMatches), which is taken off the
    // start of the glob only: inside alternatives nothing matches it. (After a leading `!`: refused below.)
    if (MEMBER_PREFIX_IN_ALTERNATIVES.test(glob)) {
      return 'a member prefix (user:, serviceAccount:) is read only at the start of a principal glob: inside {...} no principal matches it (write the alternatives without prefixes, or one exception per kind)';
    }
  }
  // A principal glob is matched without its member prefix (glob.ts principalMatches): `user:!x` is `!x` there.
  if ((kind === 'principal' ? glob.replace(/^(user|serviceAccount|group|domain):/i, '') : glob).startsWith('!')) {
    return 'a glob starting with "!" matches every value but what follows: in a list, where any one glob matching is enough, it matches nearly everything (runwatch has no exclusions: list what is allowed)';
  }
  let pattern: RegExp;
  try {
    pattern = picomatch.makeRe(glob, { strictBrackets: true });
  } catch (error) {
    return `not a valid glob: ${glob} (${error instanceof Error ? error.message : String(error)})`;
  }
  if (pattern.source === '$^') return `not a valid glob: ${glob} (it can match nothing, such as a range written backwards)`;
  const bucketGlob = kind === 'repository' ? bucketGlobOf(glob) : undefined;
  if (bucketGlob !== undefined) return bucketGlobProblem(bucketGlob);
  if (kind === 'repository') {
    const problem = repositoryGlobProblem(glob);
    if (problem) return `a repository glob is matched against host/path, without scheme, image name, tag or digest (such as gcr.io/acme or us-docker.pkg.dev/acme/prod): ${problem}, so it can match no repository`;
  }
  // Project ids and Cloud Run service and job names are lower case (GCP refuses capitals in them), and globs over them
  // match with case (config/glob.ts globMatches): a capital outside a class (`[A-Z]`) can match none of them.
  if ((kind === 'service' || kind === 'project') && /[A-Z]/.test(glob.replace(/\[(?:\[:[a-z]+:\]|[^\]])*\]/g, ''))) {
    const lower = glob.includes('[') ? '' : ` (write ${glob.toLowerCase()})`;
    return `${glob} has capitals, which no ${LOWER_CASE_NAMES[kind]} has (they are lower case): it can match none${lower}`;
  }
  if (kind === 'project') {
    const problem = projectGlobProblem(glob);
    if (problem) return problem;
  }
  if (kind === 'service' && !glob.includes('/') && !WHOLE_SEGMENT_GLOBSTAR.test(glob)) {
    const globstar = glob.includes('**') ? ' (** crosses "/" only as a whole path segment, as in acme-*/** or **)' : '';
    return `a service glob is matched against PROJECT/SERVICE (such as acme-prod/${glob} or */${glob}): without a "/" it can match no service${globstar}`;
  }
  // Neither a project id nor a service name holds a "/": a glob that needs more than one (the location written in,
  // a finding's resourceName) matches nothing. Told only where each "/" is plain: not under ** as a whole segment,
  // nor in alternatives ({a/b,c}, @(a/b|c)), where some may be optional.
  // (A leading ./ is no part of it: picomatch drops it.)
  const slashes = glob.replace(/^(\.\/)+/, '').replace(/\\./g, 'x').split('/').length - 1;
  if (kind === 'service' && slashes > 1 && !WHOLE_SEGMENT_GLOBSTAR.test(glob) && !/[{(]/.test(glob)) {
    return `a service glob is matched against PROJECT/SERVICE, one "/" (such as acme-prod/storefront or */public-*; the location is not part of it): ${glob} has ${slashes} and can match no service`;
  }
  return undefined;
}

/**
 * What a glob holding several values as a comma-separated list (`alice@acme.com, bob@acme.com`) is matched against,
 * when none of those has a comma, or undefined: a principal (an email: not a federated `principal://` subject, which
 * may hold one), a project id or a PROJECT/SERVICE. Outside `{...}` picomatch reads a comma as itself, so such a glob
 * matched nothing. A comma in a brace group (`{alice,bob}@acme.com`) is the glob's own list and is left alone.
 */
function listInOneGlob(glob: string, kind: GlobKind): string | undefined {
  if (kind !== 'principal' && kind !== 'project' && kind !== 'service') return undefined;
  if (kind === 'principal' && /^principal(set)?:\/\//i.test(glob)) return undefined;
  let outside = glob;
  for (let before = ''; before !== outside; ) [before, outside] = [outside, outside.replace(/\{[^{}]*\}/g, '')];
  // An unbalanced brace is reported as one (globProblem compiles the glob).
  if (!outside.includes(',') || /[{}]/.test(outside)) return undefined;
  return kind === 'principal' ? 'principal' : kind === 'project' ? 'project id' : 'PROJECT/SERVICE';
}

/**
 * The values of a comma-separated list as one glob's alternatives: `{a,b}`; for principals that share a member prefix,
 * the prefix before them (`user:{alice@acme.com,bob@acme.com}`: a prefix inside `{...}` matches nothing), and none
 * for principals of several kinds.
 */
function alternativesOf(glob: string, kind: GlobKind): string | undefined {
  const parts = glob.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (kind !== 'principal') return `{${parts.join(',')}}`;
  const prefixOf = (part: string): string => /^(user|serviceAccount|group|domain):/i.exec(part)?.[0] ?? '';
  const prefixes = new Set(parts.map((part) => prefixOf(part).toLowerCase()));
  if (prefixes.size > 1) return undefined;
  return `${prefixOf(parts[0] ?? '')}{${parts.map((part) => part.slice(prefixOf(part).length)).join(',')}}`;
}

/**
 * Why a `project` glob with a "/" can match nothing, or undefined. It is matched against the project id, which has no
 * "/", or, for a folder's or organization's IAM, `folders/F` or `organizations/O`: one written as a service glob
 * (`acme-prod/storefront`) or as a resource name (`projects/acme-prod`) exempted nothing. Told only where each "/" is
 * plain (not under ** as a whole segment, nor in alternatives).
 */
function projectGlobProblem(glob: string): string | undefined {
  if (!glob.includes('/') || WHOLE_SEGMENT_GLOBSTAR.test(glob) || /[{(]/.test(glob)) return undefined;
  const [first = '', ...rest] = glob.split('/');
  const container = picomatch(first, { dot: true });
  if (rest.length === 1 && (container('folders') || container('organizations'))) return undefined;
  const meant = first === 'projects' && rest.length === 1 ? ` (write ${rest[0]})` : rest.length === 1 ? ` (to exempt services of a project, write service: ${glob})` : '';
  return `a project glob is matched against the project id (which has no "/"), or folders/F or organizations/O for their IAM: ${glob} can match none${meant}`;
}

/**
 * Why a trustedRepositories glob can match no image repository (audit/image.ts: `host[:port]/path`, the path in lower
 * case), or undefined. Such a glob was accepted and trusted nothing: every deploy from the repository it was written
 * for was reported. The host may be in capitals (it is matched in lower case); a class (`[A-Z]`) is not looked into.
 */
function repositoryGlobProblem(glob: string): string | undefined {
  if (/\s/.test(glob)) return 'it contains a blank';
  if (glob.includes('://')) return 'it has a scheme';
  if (/@(?!\()/.test(glob)) return 'it has a digest'; // not an extglob, @(a|b)
  if (glob.endsWith('/')) return 'it ends with "/"';
  const slash = glob.indexOf('/');
  // A host alone matches an image with one path part (gcr.io/app), which Docker Hub never has: `nginx` is
  // docker.io/library/nginx, in the repository docker.io/library.
  if (slash === -1 && repositoryGlob(glob) === 'docker.io') {
    return "it is Docker Hub's host alone, whose images are always under a namespace (nginx is docker.io/library/nginx: write docker.io/* for all of Docker Hub, docker.io/library for its official images)";
  }
  if (slash === -1 || glob.includes('{')) return undefined;
  const path = glob.slice(slash + 1).replace(/\[[^\]]*\]/g, '');
  if (/[A-Z]/.test(path)) return 'its path has capitals (a path is lower case in every image)';
  if (path.includes(':')) return 'its path has a ":" (a tag: a repository has none; a port belongs to the host)';
  return undefined;
}

/** A glob character other than `{`, `,` and `}` (alternatives of literal names list buckets one by one). */
const WILDCARD = /[*?[\]()!+@|\\]/;

/**
 * Why a `gs://` trustedRepositories glob (the bucket glob after the scheme) can match no bucket, or trusts buckets
 * anyone can create, or undefined. Code from a bucket is judged by the bucket alone (`gs://BUCKET`), so a folder can
 * match nothing; bucket names are lower case. Bucket names are one namespace across every project: anyone can create
 * `acme-builds-evil` in a project of their own and grant the service read access to it, so a wildcard in a name trusts
 * buckets an attacker can make (as allowedDomains refuses domains anyone can own). Only whole labels in front of a
 * domain-named bucket of two labels or more may be wildcards (`gs://*.builds.acme.com`): a bucket named with a domain
 * can only be created by a verified owner of the domain (not under PER_PROJECT_BUCKET_DOMAINS, which Google owns for
 * every project).
 */
function bucketGlobProblem(bucket: string): string | undefined {
  const refused = (reason: string): string => `a bucket glob is matched against gs://BUCKET, the bucket a container's source code comes from (such as gs://acme-builds): ${reason}`;
  if (bucket === '') return refused('it names no bucket');
  if (bucket.includes('/')) return refused(`a bucket is trusted whole: gs://BUCKET, without a folder or object (write gs://${bucket.slice(0, bucket.indexOf('/'))})`);
  if (/[A-Z]/.test(bucket.replace(/\[[^\]]*\]/g, ''))) return refused(`bucket names are lower case (write gs://${bucket.toLowerCase()})`);
  const suffix = ownDomainsOnly(bucket) && !underPerProjectDomain(bucket) ? wildcardOverPublicSuffix(bucket) : undefined;
  if (suffix !== undefined) {
    return refused(`a wildcard in front of a public suffix also trusts buckets anyone can create (gs://evil.${suffix}): ${suffix} is a public suffix, under which anyone can register a domain and name buckets after it; trust a domain of your own (gs://*.builds.acme.${suffix})`);
  }
  if (!WILDCARD.test(bucket) || (ownDomainsOnly(bucket) && !underPerProjectDomain(bucket))) return undefined;
  const example = bucket.replace(/\[[^\]]*\]/g, 'x').replace(/\*+/g, 'evil').replace(/\?/g, 'x');
  return refused(
    `a wildcard in a bucket name also trusts buckets anyone can create (gs://${example}): bucket names are shared by every project, so list buckets one by one or as alternatives (gs://{acme-builds,acme-staging}), or trust a domain-named bucket, which only the domain's verified owner can create, with whole-label wildcards (gs://*.builds.acme.com; not gs://*.appspot.com nor gs://*.firebasestorage.app, where Google names a default bucket for every project)`,
  );
}

/**
 * Domains under which Google names a default bucket for any project that asks (`PROJECT_ID.appspot.com`: App Engine,
 * and Firebase before October 2024; `PROJECT_ID.firebasestorage.app`: Firebase since). Google is their verified owner
 * on every project's behalf, so a wildcard label right in front of one (`gs://*.appspot.com`) trusts the default
 * bucket of an attacker's project; one in front of a project's own (`gs://*.acme-prod.appspot.com`) does not.
 */
const PER_PROJECT_BUCKET_DOMAINS: readonly string[] = ['appspot.com', 'firebasestorage.app'];

/** True when the literal labels of a bucket glob's domain (after its wildcard labels) are one of PER_PROJECT_BUCKET_DOMAINS. */
function underPerProjectDomain(bucket: string): boolean {
  const labels = bucket.split('.');
  const literal = labels.slice(labels.findIndex((label) => label !== '*' && label !== '**')).join('.');
  return PER_PROJECT_BUCKET_DOMAINS.includes(literal);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
