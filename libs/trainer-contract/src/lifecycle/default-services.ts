import type { LifecycleServices } from './services.js';

// Wired once the S3, converter and MLflow modules land.
export const defaultServices: Partial<LifecycleServices> = {};
