export { parseTrainerArgs, type CliOutcome, type TrainerArgs } from './args.js';
