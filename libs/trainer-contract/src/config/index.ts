export {
  commonConfigShape,
  commonConfigSchema,
  configJsonSchema,
  defineConfig,
  formatConfigIssues,
  parseConfigObject,
  parseConfigText,
  splitConfigSchema,
  SPLIT_NAMES,
  type CommonConfig,
  type DefineConfigOptions,
  type SplitConfig,
} from './schema.js';
export { closest, editDistance } from './suggest.js';
