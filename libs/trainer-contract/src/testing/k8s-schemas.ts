// Validates manifests against CRD schemas offline. Built-in kinds go through kubernetes-models
// (the Kubernetes OpenAPI schemas); CRDs through their openAPIV3Schema with ajv, plus the check the API server's
// pruning would do silently: a field the schema does not know is a typo, reported here instead of dropped there.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { Ajv, type ValidateFunction } from 'ajv';

type Schema = Record<string, unknown> & {
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: boolean | Schema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  allOf?: Schema[];
  anyOf?: Schema[];
};

const CRD_DIR = new URL('../../test-data/k8s/', import.meta.url);
const CRD_FILES = ['trainer.kubeflow.org_trainjobs.yaml', 'trainer.kubeflow.org_clustertrainingruntimes.yaml', 'jobset.x-k8s.io_jobsets.yaml'];

interface Crd {
  spec: { group: string; names: { kind: string }; versions: { name: string; served: boolean; schema: { openAPIV3Schema: Schema } }[] };
}

const schemas = new Map<string, Schema>();
function loadCrds(): Map<string, Schema> {
  if (schemas.size) return schemas;
  for (const file of CRD_FILES) {
    const crd = parse(readFileSync(new URL(file, CRD_DIR), 'utf8')) as Crd;
    for (const v of crd.spec.versions) {
      if (v.served) schemas.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, v.schema.openAPIV3Schema);
    }
  }
  return schemas;
}

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const compiled = new Map<string, ValidateFunction>();

/** The CRD schema for `apiVersion` + `kind`, or undefined when none is committed. */
export function crdSchema(apiVersion: string, kind: string): Schema | undefined {
  return loadCrds().get(`${apiVersion}/${kind}`);
}

/** Every problem with `doc` under the schema: ajv's errors, then fields the schema does not define. */
export function crdProblems(doc: Record<string, unknown>): string[] {
  const key = `${String(doc['apiVersion'])}/${String(doc['kind'])}`;
  const schema = loadCrds().get(key);
  if (!schema) return [`no CRD schema for ${key}`];
  let validate = compiled.get(key);
  if (!validate) compiled.set(key, (validate = ajv.compile(schema)));
  const problems = validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
  return [...problems, ...unknownFields(doc, schema, '')];
}

/** Fields of `value` that `schema` (a structural schema) does not declare. */
export function unknownFields(value: unknown, schema: Schema, path: string): string[] {
  if (value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) return schema.items ? value.flatMap((v, i) => unknownFields(v, schema.items!, `${path}[${i}]`)) : [];
  if (schema['x-kubernetes-preserve-unknown-fields']) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const sub = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    // metadata of an embedded object is ObjectMeta, which structural schemas leave open.
    if (!sub) {
      if (path.endsWith('metadata') || (k === 'metadata' && !schema.properties)) continue;
      if (!schema.properties && schema.additionalProperties === undefined) continue;
      out.push(`${path}.${k}: not in the schema`);
      continue;
    }
    out.push(...unknownFields(v, sub, `${path}.${k}`));
  }
  return out;
}

/** A sub-schema by property path (`spec.replicatedJobs[].template`). */
export function subSchema(root: Schema, path: string): Schema {
  let s: Schema = root;
  for (const part of path.split('.')) {
    const name = part.replace(/\[\]$/, '');
    s = s.properties?.[name] as Schema;
    if (!s) throw new Error(`schema has no ${path}`);
    if (part.endsWith('[]')) s = s.items!;
  }
  return s;
}

interface KubernetesModel {
  validate(): void;
}

/** A built-in kind checked by kubernetes-models (`batch/v1` + `Job` → `kubernetes-models/batch/v1/Job`). */
export async function builtinProblems(doc: Record<string, unknown>): Promise<string[]> {
  const apiVersion = String(doc['apiVersion']);
  const kind = String(doc['kind']);
  const modulePath = `kubernetes-models/${apiVersion}/${kind}`;
  let Model: new (data: unknown) => KubernetesModel;
  try {
    Model = ((await import(modulePath)) as Record<string, new (data: unknown) => KubernetesModel>)[kind]!;
  } catch {
    return [`kubernetes-models has no ${apiVersion} ${kind}`];
  }
  try {
    new Model(doc).validate();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

/** Problems with any manifest: a committed CRD schema when there is one, else the built-in kind. */
export async function manifestProblems(doc: Record<string, unknown>): Promise<string[]> {
  const [group] = String(doc['apiVersion']).split('/');
  const isCrd = crdSchema(String(doc['apiVersion']), String(doc['kind'])) !== undefined || String(group).includes('.x-k8s.io') || String(group).includes('kubeflow.org');
  return isCrd ? crdProblems(doc) : builtinProblems(doc);
}
