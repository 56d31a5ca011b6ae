export { createLogger, LOG_LEVELS, type Logger, type LogLevel, type LoggerOptions } from './logger.js';
export { createRedactor, configureRedaction, redact, SECRET_ENV_VARS, type Redactor } from './redact.js';
