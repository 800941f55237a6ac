// Metrics: one OpenTelemetry MeterProvider per process, read two ways — a Prometheus text
// exposition (scraped from the service's metrics listener, see metrics-server.ts) and, when an
// OTLP endpoint is configured, pushed to the collector like the traces.
//
// Packages define their instruments once, at module level, through the helpers below; they
// never import OpenTelemetry themselves. The helpers resolve the real instrument lazily against
// whatever provider is registered when a value is recorded: the metrics API has no proxy
// provider (unlike tracing), so an instrument taken from the global API before startMetrics ran
// would stay a no-op forever — and tests build services before, or without, starting metrics.
import {
  metrics,
  type Attributes,
  type Meter,
  type MeterProvider,
  type ObservableCallback,
  type ObservableGauge,
} from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  InstrumentType,
  MetricReader,
  PeriodicExportingMetricReader,
  MeterProvider as SdkMeterProvider,
} from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/** Every flow8 instrument lives in this one scope, so one name is one series family in a scrape. */
const SCOPE = 'flow8';

/** Default histogram buckets for durations in seconds (5 ms … 30 s). */
export const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

// ---------------------------------------------------------------------------------------------
// Labels: bounded cardinality, never personal data.

/**
 * Label values that look like an identifier: flow8's prefixed ids (`ten_01J…`, `usr_…`), UUIDs,
 * long hex or base64 strings, e-mail addresses, IP addresses. A metric label holding one of these
 * would put a tenant's or a person's identity into every time-series database downstream and make
 * the series count unbounded; such a value is replaced by ID_REDACTED instead. The label names an
 * instrument accepts are declared with it, so a `tenant_id` label cannot be added by accident.
 */
const ID_LIKE: readonly RegExp[] = [
  /[a-z]{2,8}_[0-9a-z]{20,}/i, // prefixed ids (ten_01j…, usr_…, cred_…)
  /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i, // UUIDs
  /[0-9a-f]{24,}/i, // hashes, tokens
  /@/, // e-mail addresses
  /\b\d{1,3}(\.\d{1,3}){3}\b/, // IPv4
  /^[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}$/i, // IPv6
];
export const ID_REDACTED = '_id_redacted';
/** Longer label values are cut: a label is a category, not a message. */
const MAX_LABEL_LENGTH = 100;

export function safeLabelValue(value: string | number | boolean): string | number | boolean {
  if (typeof value !== 'string') return value;
  if (ID_LIKE.some((re) => re.test(value))) return ID_REDACTED;
  return value.length > MAX_LABEL_LENGTH ? value.slice(0, MAX_LABEL_LENGTH) : value;
}

export type Labels<L extends string> = Partial<Record<L, string | number | boolean>>;

function attributesOf<L extends string>(allowed: ReadonlySet<string>, labels: Labels<L> | undefined): Attributes {
  const out: Attributes = {};
  if (!labels) return out;
  for (const [key, value] of Object.entries(labels) as Array<[string, string | number | boolean | undefined]>) {
    // Undeclared label names are dropped, whatever the caller's types said.
    if (value === undefined || !allowed.has(key)) continue;
    out[key] = safeLabelValue(value);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Instruments.

export interface InstrumentOptions<L extends string> {
  description: string;
  /** UCUM unit: `s`, `By`, `1`, `{message}` … */
  unit?: string;
  /** The only label names this instrument accepts. */
  labels?: readonly L[];
}

function lazyInstrument<T>(create: (meter: Meter) => T): () => T {
  let provider: MeterProvider | undefined;
  let instrument: T | undefined;
  return () => {
    const current = metrics.getMeterProvider();
    if (current !== provider || instrument === undefined) {
      provider = current;
      instrument = create(current.getMeter(SCOPE));
    }
    return instrument;
  };
}

export interface Counter<L extends string> {
  add(value: number, labels?: Labels<L>): void;
}

/** A monotonic counter; Prometheus shows it as `<name>_total`. */
export function counter<L extends string = never>(name: string, opts: InstrumentOptions<L>): Counter<L> {
  const allowed = new Set<string>(opts.labels ?? []);
  const get = lazyInstrument((m) => m.createCounter(name, { description: opts.description, unit: opts.unit }));
  return { add: (value, labels) => get().add(value, attributesOf(allowed, labels)) };
}

export interface Histogram<L extends string> {
  record(value: number, labels?: Labels<L>): void;
}

export function histogram<L extends string = never>(
  name: string,
  opts: InstrumentOptions<L> & { buckets?: readonly number[] },
): Histogram<L> {
  const allowed = new Set<string>(opts.labels ?? []);
  const get = lazyInstrument((m) =>
    m.createHistogram(name, {
      description: opts.description,
      unit: opts.unit,
      advice: { explicitBucketBoundaries: [...(opts.buckets ?? DURATION_BUCKETS_SECONDS)] },
    }),
  );
  return { record: (value, labels) => get().record(value, attributesOf(allowed, labels)) };
}

export type Observation<L extends string> = readonly [value: number, labels?: Labels<L>];

export interface GaugeRegistration {
  /** Stops observing (call when the component the gauge reports on stops). */
  remove(): void;
}

interface GaugeEntry {
  name: string;
  description: string;
  unit: string | undefined;
  allowed: ReadonlySet<string>;
  observe: () => Iterable<Observation<string>> | Promise<Iterable<Observation<string>>>;
  bound?: { provider: MeterProvider; gauge: ObservableGauge; callback: ObservableCallback };
}

const gauges = new Set<GaugeEntry>();

function bindGauge(entry: GaugeEntry): void {
  const provider = metrics.getMeterProvider();
  if (entry.bound?.provider === provider) return;
  unbindGauge(entry);
  const gauge = provider
    .getMeter(SCOPE)
    .createObservableGauge(entry.name, { description: entry.description, unit: entry.unit });
  const callback: ObservableCallback = async (result) => {
    // A failing observer must not break the whole scrape: it reports nothing this time.
    let observations: Iterable<Observation<string>>;
    try {
      observations = await entry.observe();
    } catch {
      return;
    }
    for (const [value, labels] of observations) {
      if (Number.isFinite(value)) result.observe(value, attributesOf(entry.allowed, labels));
    }
  };
  gauge.addCallback(callback);
  entry.bound = { provider, gauge, callback };
}

function unbindGauge(entry: GaugeEntry): void {
  if (!entry.bound) return;
  entry.bound.gauge.removeCallback(entry.bound.callback);
  entry.bound = undefined;
}

/**
 * An observable gauge: `observe` is called at every collection (scrape or OTLP export) and returns
 * the current values, one per label set. It may be async; it should be quick and must not throw
 * for a transient problem it could report as a missing sample instead.
 */
export function observableGauge<L extends string = never>(
  name: string,
  opts: InstrumentOptions<L>,
  observe: () => Iterable<Observation<L>> | Promise<Iterable<Observation<L>>>,
): GaugeRegistration {
  const entry: GaugeEntry = {
    name,
    description: opts.description,
    unit: opts.unit,
    allowed: new Set<string>(opts.labels ?? []),
    observe,
  };
  gauges.add(entry);
  bindGauge(entry);
  return {
    remove() {
      gauges.delete(entry);
      unbindGauge(entry);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The provider.

export interface MetricsOptions {
  serviceName: string;
  /** OTLP/HTTP base endpoint; `/v1/metrics` is appended unless present. Unset: no push. */
  otlpEndpoint?: string;
  /** How often metrics are pushed over OTLP. Default 30 s. */
  exportIntervalMs?: number;
}

export interface MetricsHandle {
  /** The current metrics in the Prometheus text exposition format (version 0.0.4). */
  scrape(): Promise<string>;
  /** Pushes pending OTLP metrics, then unregisters the provider if it is still the global one. */
  shutdown(): Promise<void>;
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function metricsUrl(endpoint: string): string {
  const url = new URL(endpoint);
  const path = url.pathname.replace(/\/+$/, '');
  if (!path.endsWith('/v1/metrics')) url.pathname = `${path}/v1/metrics`;
  return url.toString();
}

let active: MetricsHandle | undefined;

/**
 * Gauges are collected with delta temporality, everything else cumulative. With cumulative
 * temporality the SDK keeps reporting the last value of every label set it ever saw: the lag of
 * a partition long since assigned to another replica, the backlog of a relay that lost its
 * leadership. A gauge's label set that was not observed in this collection must disappear.
 */
function gaugesAsDelta(type: InstrumentType): AggregationTemporality {
  return type === InstrumentType.OBSERVABLE_GAUGE || type === InstrumentType.GAUGE
    ? AggregationTemporality.DELTA
    : AggregationTemporality.CUMULATIVE;
}

/** Collects on demand, for the Prometheus scrape (the exporter package's serializer formats it). */
class ScrapeReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: gaugesAsDelta });
  }
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

class OtlpExporter extends OTLPMetricExporter {
  override selectAggregationTemporality(type: InstrumentType): AggregationTemporality {
    return gaugesAsDelta(type);
  }
}

/**
 * Registers a MeterProvider globally (replacing one registered before: tests start several) and
 * binds every observable gauge already defined to it. Call once in main(), after startTelemetry.
 */
export function startMetrics(opts: MetricsOptions): MetricsHandle {
  // `service.name` becomes a `service_name` label on every sample, so series from different
  // services never merge even when one scrape job collects several.
  const constantLabels = /^service\.name$/;
  const prometheus = new ScrapeReader();
  const serializer = new PrometheusSerializer(undefined, false, constantLabels);
  const readers = [
    prometheus,
    ...(opts.otlpEndpoint
      ? [
          new PeriodicExportingMetricReader({
            exporter: new OtlpExporter({ url: metricsUrl(opts.otlpEndpoint) }),
            exportIntervalMillis: opts.exportIntervalMs ?? 30_000,
          }),
        ]
      : []),
  ];
  const provider = new SdkMeterProvider({
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.serviceName })),
    readers,
  });

  const previous = active;
  if (previous) {
    metrics.disable();
    void previous.shutdown().catch(() => undefined);
  }
  metrics.setGlobalMeterProvider(provider);
  for (const entry of gauges) bindGauge(entry);

  let done: Promise<void> | undefined;
  const handle: MetricsHandle = {
    async scrape() {
      const { resourceMetrics } = await prometheus.collect();
      return serializer.serialize(resourceMetrics);
    },
    shutdown() {
      done ??= (async () => {
        try {
          await provider.shutdown();
        } finally {
          if (active === handle) {
            metrics.disable();
            active = undefined;
            for (const entry of gauges) unbindGauge(entry);
          }
        }
      })();
      return done;
    },
  };
  active = handle;
  return handle;
}
