import { configJsonSchema } from '../config/index.js';
import { callbackJsonSchemas } from '../callbacks/json-schema.js';
import type { SchemaKind } from '../cli/index.js';
import type { DriverDescription, TrainerDriver } from './types.js';

/** The version of the contract (CONTRACT.md) a trainer speaks; a breaking change to it bumps this. */
export const CONTRACT_VERSION = 1;

/** `--describe` (CONTRACT §9): what a backend needs to launch this trainer without reading its code. */
export type TrainerDescription = { name: string; version: string; contract_version: number } & Partial<DriverDescription> & {
  config_schema: Record<string, unknown>;
};

/** The JSON Schema a backend validates against before it launches a Job. */
export function schemaFor(driver: Pick<TrainerDriver, 'name' | 'configSchema'>, which: SchemaKind): Record<string, unknown> {
  if (which === 'config') return { title: `trainer-${driver.name} config`, ...configJsonSchema(driver.configSchema) };
  return callbackJsonSchemas()[which];
}

export function describeTrainer(driver: Pick<TrainerDriver, 'name' | 'version' | 'configSchema' | 'describe'>): TrainerDescription {
  return {
    name: `trainer-${driver.name}`,
    version: driver.version,
    contract_version: CONTRACT_VERSION,
    ...driver.describe?.(),
    config_schema: schemaFor(driver, 'config'),
  };
}
