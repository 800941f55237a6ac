export { createLogger, REDACTED, SECRET_KEYS, scrubSecrets } from './logger';
export type { Logger, LoggerOptions } from './logger';
export {
  activeTraceIds,
  currentTraceparent,
  extractTraceContext,
  getTracer,
  injectTraceHeaders,
  startTelemetry,
  withSpan,
} from './tracing';
export type { HeaderValue, TelemetryHandle, TelemetryOptions, WithSpanOptions } from './tracing';
export {
  counter,
  DURATION_BUCKETS_SECONDS,
  histogram,
  ID_REDACTED,
  metricsUrl,
  observableGauge,
  PROMETHEUS_CONTENT_TYPE,
  safeLabelValue,
  startMetrics,
} from './metrics';
export type {
  Counter,
  GaugeRegistration,
  Histogram,
  InstrumentOptions,
  Labels,
  MetricsHandle,
  MetricsOptions,
  Observation,
} from './metrics';
export { type MetricsServer, type ProbeHandler, serveMetrics } from './metrics-server';
// Re-exported so bus/http/services create spans without depending on @opentelemetry/api themselves.
export { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
export type { Attributes, Context, Span } from '@opentelemetry/api';
export type { SpanExporter } from '@opentelemetry/sdk-trace-base';
