export {
  commonConfigShape,
  commonConfigSchema,
  configJsonSchema,
  defineConfig,
  fractionSchema,
  frameworkArgs,
  imgszSchema,
  positiveSchema,
  formatConfigIssues,
  parseConfigObject,
  parseConfigText,
  splitConfigSchema,
  type CommonConfig,
  type DefineConfigOptions,
} from './schema.js';
export { closest, editDistance } from './suggest.js';
