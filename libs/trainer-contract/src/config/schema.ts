import { z } from 'zod';
import { TASKS } from '../domain/index.js';
import { ConfigError } from '../errors/index.js';
import { closest } from './suggest.js';
import { splitConfigSchema } from '../convert/index.js';

export { splitConfigSchema };

const DEVICE = /^(auto|cpu|mps|cuda(:\d+)?|\d+(,\d+)*)$/;

const SIDE = z.number().int().min(32).max(8192);

/** `imgsz`: one side, or `[h, w]`. Apps pick the default their framework uses (Ultralytics 640, timm 224, …). */
export function imgszSchema(def?: number) {
  const schema = z.union([SIDE, z.tuple([SIDE, SIDE])]);
  return def === undefined ? schema.optional() : schema.default(def);
}

/** A number above 0, up to `max`: rates, epochs, norms. */
export const positiveSchema = (max: number) => z.number().gt(0).max(max);

/** A share in [0, 1] with the framework's default: learning rates, probabilities, momenta. */
export const fractionSchema = (def: number, what: string) => z.number().min(0).max(1).default(def).describe(what);

/** The keys a framework takes under their own names, where the config sets them (the bridge's `train_args`). */
export function frameworkArgs(config: object, keys: Iterable<string>): Record<string, unknown> {
  const source = config as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}

/**
 * Keys every trainer accepts (the seed's, plus the contract's additions), in the meaning every framework shares.
 * An app narrows or widens one by naming it again in defineConfig (Ultralytics: `batch: -1` for AutoBatch, imgsz 640).
 */
export const commonConfigShape = {
  epochs: z.number().int().min(1).max(100_000).default(100),
  batch: z.number().int().min(1).max(65_536).default(16).describe('images per batch'),
  imgsz: imgszSchema(),
  device: z
    .union([z.string().regex(DEVICE, 'expected auto, cpu, mps, cuda:N, a GPU index like 0, or a list like 0,1'), z.number().int().min(0)])
    .default('auto'),
  nproc_per_node: z
    .number()
    .int()
    .min(1)
    .max(64)
    .optional()
    .describe('training processes on this node, launched with torchrun (default: one per GPU listed in device; CPU runs use gloo)'),
  task: z.enum(TASKS as [string, ...string[]]).optional(),
  primary_metric: z.string().min(1).max(200).optional(),
  split_config: splitConfigSchema.optional(),
  strict_data: z.boolean().default(false).describe('treat dangling annotation/image references as data errors instead of dropping them'),
  checkpoint_interval: z.number().int().min(1).max(100_000).default(1).describe('upload last.pt every N epochs while training'),
  mlflow_log_model: z.boolean().default(false).describe('also upload best.pt as an MLflow artifact'),
  stall_timeout_s: z
    .number()
    .min(0)
    .max(7 * 24 * 3600)
    .default(1800)
    .describe('stop and fail the run (STALLED, retriable) when the framework sends no heartbeat or epoch for this long; 0 turns the watchdog off'),
};

export const commonConfigSchema = z.object(commonConfigShape).strict();
export type CommonConfig = z.output<typeof commonConfigSchema>;

export interface DefineConfigOptions {
  /** Keys the trainer sets itself, refused with the reason given. */
  ownedKeys?: Record<string, string>;
}

/**
 * A trainer's schema: the common keys plus its own. Unknown keys are errors (with a suggestion),
 * and keys the trainer owns are refused with a reason.
 */
export function defineConfig<S extends z.ZodRawShape>(extra: S, options: DefineConfigOptions = {}) {
  const schema = z.object({ ...commonConfigShape, ...extra }).strict();
  return Object.assign(schema, { ownedKeys: options.ownedKeys ?? {} });
}

type AnySchema = z.ZodObject<z.ZodRawShape> & { ownedKeys?: Record<string, string> };

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 40 ? text.slice(0, 37) + '...' : text;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function formatPath(path: readonly PropertyKey[]): string {
  return ['config', ...path.map(String)].join('.');
}

function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let cur: z.ZodType | undefined = schema;
  for (const key of path) {
    cur = unwrap(cur);
    if (cur instanceof z.ZodObject) cur = (cur.shape as Record<string, z.ZodType>)[String(key)];
    else return [];
  }
  cur = cur && unwrap(cur);
  return cur instanceof z.ZodObject ? Object.keys(cur.shape) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  while (cur instanceof z.ZodOptional || cur instanceof z.ZodDefault || cur instanceof z.ZodNullable) cur = cur.unwrap() as z.ZodType;
  return cur;
}

/** One line per problem, each naming the field: `config.epochs: too small: expected number to be >=1 (got -5)`. */
export function formatConfigIssues(schema: AnySchema, issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = keysAt(schema, issue.path);
      for (const key of issue.keys) {
        const owned = issue.path.length === 0 ? schema.ownedKeys?.[key] : undefined;
        if (owned) {
          lines.push(`${formatPath([...issue.path, key])}: not allowed, ${owned}`);
          continue;
        }
        const hint = closest(key, known);
        lines.push(`${formatPath([...issue.path, key])}: unknown key${hint ? ` (did you mean "${hint}"?)` : ''}`);
      }
      continue;
    }
    const got = valueAt(input, issue.path);
    const message = issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
    lines.push(`${formatPath(issue.path)}: ${message} (got ${describeValue(got)})`);
  }
  return lines;
}

/** Parses the `--config` text (already read from a file when given as `@file`). */
export function parseConfigText<S extends AnySchema>(schema: S, text: string | undefined): z.output<S> {
  let raw: unknown = {};
  if (text !== undefined && text.trim() !== '') {
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config: not valid JSON (${(err as Error).message})`);
    }
  }
  return parseConfigObject(schema, raw);
}

export function parseConfigObject<S extends AnySchema>(schema: S, raw: unknown): z.output<S> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`config: expected a JSON object, got ${Array.isArray(raw) ? 'an array' : describeValue(raw)}`);
  }
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(formatConfigIssues(schema, result.error.issues, raw));
  return result.data as z.output<S>;
}

/** JSON Schema (draft 2020-12) of what a backend may send. */
export function configJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
