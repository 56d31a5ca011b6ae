export { parseTrainerArgs, SCHEMA_KINDS, type CliOutcome, type SchemaKind, type TrainerArgs } from './args.js';
