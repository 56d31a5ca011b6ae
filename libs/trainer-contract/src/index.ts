export * from './errors/index.js';
export * from './log/index.js';
export * from './config/index.js';
export * from './cli/index.js';
export * from './callbacks/index.js';
export * from './lifecycle/index.js';
export * from './mlflow/index.js';
export * from './bridge/index.js';
