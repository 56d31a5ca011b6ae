export {
  commonConfigShape,
  commonConfigSchema,
  configJsonSchema,
  defineConfig,
  imgszSchema,
  formatConfigIssues,
  parseConfigObject,
  parseConfigText,
  splitConfigSchema,
  type CommonConfig,
  type DefineConfigOptions,
} from './schema.js';
export { closest, editDistance } from './suggest.js';
