// The examples must stay consistent with the module: they call it with every variable it requires and nothing it
// does not declare, their own variables are declared and filled by terraform.tfvars.example, and the config they ship
// is a valid runwatch config (checked with the same validator `terraform plan` runs).
import { convertFiles, parse } from '@cdktn/hcl2json';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../functions/config/load.js';

const TERRAFORM_DIR = fileURLToPath(new URL('../../terraform/', import.meta.url));
const MODULE_DIR = join(TERRAFORM_DIR, 'modules', 'runwatch');

type Block = Record<string, unknown>;
type Tf = Record<string, unknown>;

/** Example name, the log sink scope it demonstrates, and module arguments it must pass (beyond the required ones). */
const EXAMPLES = [
  { name: 'organization', scope: 'organization', alsoPasses: ['organization_id', 'include_children', 'sinks', 'secret_versions'] },
  { name: 'project', scope: 'project', alsoPasses: ['log_sink_project_id', 'sinks', 'secret_versions'] },
] as const;

const variables = (tf: Tf): Record<string, Block> =>
  Object.fromEntries(Object.entries((tf['variable'] ?? {}) as Record<string, Block[]>).map(([k, [v]]) => [k, v ?? {}]));

/** Names of var.X referenced anywhere in the parsed configuration. */
function referencedVariables(value: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') for (const m of v.matchAll(/\bvar\.([a-zA-Z0-9_]+)/g)) out.add(m[1]!);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(walk);
  };
  walk(value);
  return out;
}

let moduleTf: Tf;
const parsed = new Map<string, { tf: Tf; tfvars: Tf }>();

beforeAll(async () => {
  moduleTf = await convertFiles(MODULE_DIR);
  for (const { name } of EXAMPLES) {
    const dir = join(TERRAFORM_DIR, 'examples', name);
    const tf = await convertFiles(dir);
    const tfvars = await parse('terraform.tfvars.example', readFileSync(join(dir, 'terraform.tfvars.example'), 'utf8'));
    parsed.set(name, { tf, tfvars });
  }
});

describe.each(EXAMPLES)('examples/$name', ({ name, scope, alsoPasses }) => {
  const dir = join(TERRAFORM_DIR, 'examples', name);
  const call = (): Block => {
    const modules = (parsed.get(name)!.tf['module'] ?? {}) as Record<string, Block[]>;
    expect(Object.keys(modules)).toEqual(['runwatch']);
    return modules['runwatch']![0]!;
  };

  it('has the files of a terraform-google-modules example', () => {
    for (const file of ['main.tf', 'variables.tf', 'outputs.tf', 'versions.tf', 'terraform.tfvars.example', 'runwatch.yaml']) {
      expect(existsSync(join(dir, file)), file).toBe(true);
    }
  });

  it('calls the local module', () => {
    expect(call()['source']).toBe('../../modules/runwatch');
  });

  it('passes every variable the module requires', () => {
    const required = Object.entries(variables(moduleTf))
      .filter(([, v]) => !('default' in v))
      .map(([k]) => k);
    expect(required.sort()).toEqual(['config_path', 'project_id', 'region']);
    for (const variable of [...required, ...alsoPasses]) expect(call(), variable).toHaveProperty(variable);
  });

  it('passes only variables the module declares', () => {
    const declared = new Set(Object.keys(variables(moduleTf)));
    const META = new Set(['source', 'version', 'providers', 'depends_on', 'count', 'for_each']);
    const unknown = Object.keys(call()).filter((k) => !META.has(k) && !declared.has(k));
    expect(unknown).toEqual([]);
  });

  it(`watches at ${scope} scope`, () => {
    expect(call()['log_sink_scope']).toBe(scope);
  });

  it('ships its config beside the Terraform and points the module at it', () => {
    expect(call()['config_path']).toBe('${path.module}/runwatch.yaml');
    expect(call()['package_dir']).toBe('${path.module}/../../..');
    expect(existsSync(join(dir, '..', '..', '..', 'package.json'))).toBe(true);
  });

  it('ships a config the runwatch validator accepts', async () => {
    const config = await loadConfigFile(join(dir, 'runwatch.yaml'));
    expect(config.changeWindows.length).toBeGreaterThan(0);
  });

  it('declares every variable it uses, and terraform.tfvars.example fills every required one', () => {
    const { tf, tfvars } = parsed.get(name)!;
    const declared = variables(tf);
    const used = referencedVariables({ module: tf['module'], provider: tf['provider'], output: tf['output'] });
    expect([...used].filter((v) => !(v in declared))).toEqual([]);
    const required = Object.entries(declared)
      .filter(([, v]) => !('default' in v))
      .map(([k]) => k);
    expect(required).toContain('project_id');
    for (const v of required) expect(tfvars, `terraform.tfvars.example sets ${v}`).toHaveProperty(v);
    expect(Object.keys(tfvars).filter((k) => !(k in declared))).toEqual([]);
  });

  it('types and describes its variables', () => {
    for (const [k, v] of Object.entries(variables(parsed.get(name)!.tf))) {
      expect(typeof v['type'], k).toBe('string');
      expect(String(v['description']).length, k).toBeGreaterThan(10);
    }
  });

  it('outputs only what the module outputs', () => {
    const moduleOutputs = new Set(Object.keys(moduleTf['output'] as Block));
    const outputs = Object.entries(parsed.get(name)!.tf['output'] as Record<string, Block[]>);
    expect(outputs.length).toBeGreaterThan(0);
    for (const [k, [o]] of outputs) {
      const m = /^\$\{module\.runwatch\.([a-z0-9_]+)\}$/.exec(String(o?.['value']));
      expect(m?.[1], k).toBeDefined();
      expect(moduleOutputs.has(m![1]!), `module output ${m![1]}`).toBe(true);
    }
  });

  it('pins the same Terraform and providers as the module', () => {
    const pins = (tf: Tf): unknown => {
      const t = (tf['terraform'] as Block[])[0]!;
      return { version: t['required_version'], providers: (t['required_providers'] as Block[])[0] };
    };
    expect(pins(parsed.get(name)!.tf)).toEqual(pins(moduleTf));
  });

  // Both Google providers the module uses are configured alike: the runwatch project, and (for user credentials,
  // which name no quota project) requests billed to it.
  it.each(['google', 'google-beta'])('configures the %s provider for the runwatch project', (provider) => {
    const config = (parsed.get(name)!.tf['provider'] as Record<string, Block[]>)[provider]?.[0];
    expect(config).toMatchObject({ project: '${var.project_id}', region: '${var.region}', user_project_override: true, billing_project: '${var.project_id}' });
  });
});

describe('the module requirements the examples rely on', () => {
  it('the organization example alone enables the scc sink (it needs an organization)', () => {
    const sinks = (name: string): unknown => (variables(parsed.get(name)!.tf)['sinks'] ?? {})['default'];
    expect(sinks('organization')).toContain('scc');
    expect(sinks('project')).not.toContain('scc');
  });
});
