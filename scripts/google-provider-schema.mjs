#!/usr/bin/env node
// Writes test/terraform/fixtures/google-provider-schema.json: the google provider's schema (arguments, nested blocks,
// which are required, and the attributes that can be read) for every google_* resource type the Terraform module and
// the examples use. test/terraform/provider-schema.test.ts checks the HCL against it, since `terraform validate` needs
// the provider, which cannot be downloaded offline.
//
// Enum arguments carry the values the provider accepts ("Possible values" in its schema descriptions).
//
// The schema is read from the prebuilt CDKTF bindings of the provider (they are generated from `terraform providers
// schema -json`), which are not a dependency of this package: unpack them anywhere and pass the directory.
//
//   npm pack @cdktf/provider-google@16.12.1 && tar xzf cdktf-provider-google-16.12.1.tgz   # google 6.50.0
//   node scripts/google-provider-schema.mjs package > test/terraform/fixtures/google-provider-schema.json
//
// The types used are taken from the parse of terraform/ (the module and the examples). google-beta types (only
// google_project_service_identity) are not in that package: they come from EXTRA below, written from the provider docs.
import { convertFiles } from '@cdktn/hcl2json';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = process.argv[2];
if (!pkg || !existsSync(join(pkg, 'package.json'))) {
  process.stderr.write('usage: node scripts/google-provider-schema.mjs <unpacked @cdktf/provider-google package dir>\n');
  process.exit(1);
}
const meta = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));

// hashicorp/terraform-provider-google website/docs/r/project_service_identity.html.markdown (beta-only resource).
const EXTRA = {
  google_project_service_identity: {
    provider: 'google-beta',
    args: { project: { required: false }, service: { required: true } },
    blocks: { timeouts: { args: { create: { required: false } }, blocks: {}, attributes: ['create'] } },
    attributes: ['email', 'id', 'project', 'service'],
  },
};

const TERRAFORM = fileURLToPath(new URL('../terraform/', import.meta.url));
const dirs = [join(TERRAFORM, 'modules', 'runwatch'), join(TERRAFORM, 'examples', 'project'), join(TERRAFORM, 'examples', 'organization')];
const types = new Set();
for (const dir of dirs) {
  const tf = await convertFiles(dir);
  for (const type of Object.keys(tf.resource ?? {})) if (type.startsWith('google_')) types.add(type);
}

function fnBody(js, name) {
  const start = js.indexOf(`function ${name}(`);
  return start < 0 ? '' : js.slice(start, js.indexOf('\n}\n', start));
}

// `name: { value: X(...), isBlock: b, type: "t", storageClassType: "S" }` entries of a synthesizeHclAttributes body.
function entries(body) {
  const out = [];
  const re = /\n\s+([a-z0-9_]+): \{\n\s+value: ([^\n]*),\n\s+isBlock: (true|false),\n\s+type: "([a-z]+)",\n\s+storageClassType: "([^"]+)"/g;
  for (const m of body.matchAll(re)) {
    const fn = /([A-Za-z0-9]+ToHclTerraform)\b/.exec(m[2])?.[1];
    out.push({ name: m[1], isBlock: m[3] === 'true', storage: m[5], fn: fn && !/^(string|number|boolean)/.test(fn) ? fn : undefined });
  }
  return out;
}

const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** `export interface NAME { ... }`: the names without `?` (required), and the enum values its doc comments list. */
function fieldsOf(dts, iface) {
  const start = dts.indexOf(`export interface ${iface} `);
  const required = new Set();
  const values = new Map();
  if (start < 0) return { required, values };
  const body = dts.slice(start, dts.indexOf('\n}\n', start));
  for (const m of body.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*readonly ([A-Za-z0-9]+)(\??): /g)) {
    if (m[3] === '') required.add(snake(m[2]));
    const possible = /Possible values: \[([^\]]*)\]/.exec(m[1]);
    if (possible) values.set(snake(m[2]), JSON.parse(`[${possible[1]}]`));
  }
  return { required, values };
}

/** Attributes readable on a class: every getXxxAttribute('name') in its body. */
function attributesOf(js, cls) {
  const start = js.indexOf(`class ${cls} extends`);
  if (start < 0) return [];
  const end = js.indexOf('\n}\n', start);
  return [...new Set([...js.slice(start, end).matchAll(/get[A-Za-z]*Attribute\('([a-z0-9_]+)'\)/g)].map((m) => m[1]))].sort();
}

function schemaOf(js, dts, body, iface, cls) {
  const { required, values } = fieldsOf(dts, iface);
  const args = {};
  const blocks = {};
  for (const e of entries(body)) {
    if (!e.isBlock) {
      args[e.name] = { required: required.has(e.name), ...(values.has(e.name) ? { values: values.get(e.name) } : {}) };
      continue;
    }
    const base = e.storage.replace(/(List|OutputReference|Map)$/, '');
    blocks[e.name] = {
      required: required.has(e.name),
      ...schemaOf(js, dts, e.fn ? fnBody(js, e.fn) : '', base, `${base}OutputReference`),
    };
  }
  return { args, blocks, attributes: attributesOf(js, cls) };
}

const resources = {};
for (const type of [...types].sort()) {
  if (EXTRA[type]) {
    resources[type] = EXTRA[type];
    continue;
  }
  const dir = join(pkg, 'lib', type.replace(/^google_/, '').replace(/_/g, '-'));
  if (!existsSync(join(dir, 'index.js'))) {
    process.stderr.write(`${type}: not in ${meta.name} ${meta.version} (add it to EXTRA from the provider docs)\n`);
    process.exit(1);
  }
  const js = readFileSync(join(dir, 'index.js'), 'utf8');
  const dts = readFileSync(join(dir, 'index.d.ts'), 'utf8');
  const cls = /export declare class ([A-Za-z0-9]+) extends cdktf\.TerraformResource/.exec(dts)[1];
  const start = js.indexOf('synthesizeHclAttributes() {');
  const body = js.slice(start, js.indexOf('\n    }\n', start));
  resources[type] = { provider: 'google', ...schemaOf(js, dts, body, `${cls}Config`, cls) };
}

process.stdout.write(
  `${JSON.stringify(
    {
      source: `${meta.name} ${meta.version}, generated from ${meta.cdktf.provider.name} ${meta.cdktf.provider.version} by scripts/google-provider-schema.mjs; google-beta entries from the provider docs`,
      resources,
    },
    null,
    1,
  )}\n`,
);
