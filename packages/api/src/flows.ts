// § Flows and executions (docs/api.md), served by flow-engine behind the gateway. Both validate
// with these. The definition body is checked in full by the engine (JSON Schema + graph + CEL,
// every problem with its JSON pointer); a run's input against the published version's inputSchema.
import { listQuery, listResponse } from '@flow8/http';

const flowId = { type: 'string', pattern: '^flw_[0-9a-z]{26}$' } as const;
const executionId = { type: 'string', pattern: '^exe_[0-9a-z]{26}$' } as const;
const idParams = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: flowId } } as const;
const executionParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: executionId },
} as const;
const versionParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'version'],
  properties: { id: flowId, version: { type: 'integer', minimum: 1, maximum: 2147483647 } },
} as const;
const iso = { type: 'string', maxLength: 32 } as const;
const isoOrNull = { type: ['string', 'null'], maxLength: 32 } as const;

export const flowView = {
  type: 'object',
  additionalProperties: false,
  required: [
    'id',
    'name',
    'partitionId',
    'status',
    'latestVersion',
    'publishedVersion',
    'createdBy',
    'createdAt',
    'updatedAt',
    'archivedAt',
  ],
  properties: {
    id: flowId,
    name: { type: 'string' },
    partitionId: { type: ['string', 'null'] },
    status: { enum: ['draft', 'published', 'archived'] },
    latestVersion: { type: 'integer' },
    publishedVersion: { type: ['integer', 'null'] },
    createdBy: { type: 'string' },
    createdAt: iso,
    updatedAt: iso,
    archivedAt: isoOrNull,
  },
} as const;

const versionProps = {
  flowId,
  version: { type: 'integer' },
  definitionSha256: { type: 'string' },
  savedBy: { type: 'string' },
  savedAt: iso,
} as const;
export const versionView = {
  type: 'object',
  additionalProperties: false,
  required: ['flowId', 'version', 'definitionSha256', 'savedBy', 'savedAt'],
  properties: versionProps,
} as const;
const versionWithDefinition = {
  ...versionView,
  required: [...versionView.required, 'definition'],
  properties: { ...versionProps, definition: { type: 'object', additionalProperties: true } },
} as const;

const definitionBody = { type: 'object' } as const;

export const createFlow = { body: definitionBody, response: { 201: flowView } } as const;
export const listFlows = { querystring: listQuery, response: { 200: listResponse(flowView) } } as const;
export const getFlow = { params: idParams, response: { 200: flowView } } as const;
export const saveVersion = { params: idParams, body: definitionBody, response: { 201: versionView } } as const;
export const listVersions = {
  params: idParams,
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['items'],
      properties: { items: { type: 'array', items: versionView } },
    },
  },
} as const;
export const getVersion = { params: versionParams, response: { 200: versionWithDefinition } } as const;
export const publishFlow = {
  params: idParams,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['version'],
    properties: { version: { type: 'integer', minimum: 1, maximum: 2147483647 } },
  },
  response: { 200: flowView },
} as const;
export const archiveFlow = { params: idParams, response: { 200: flowView } } as const;

// ── Executions ──

export const EXECUTION_STATUSES = [
  'running',
  'awaiting_approval',
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
  'ambiguous',
] as const;

const executionProps = {
  id: executionId,
  flowId,
  flowVersion: { type: 'integer' },
  status: { enum: EXECUTION_STATUSES },
  errorCode: { type: ['string', 'null'] },
  triggeredBy: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'id'],
    properties: { type: { type: 'string' }, id: { type: 'string' } },
  },
  startedAt: iso,
  finishedAt: isoOrNull,
} as const;
const executionRequired = [
  'id',
  'flowId',
  'flowVersion',
  'status',
  'errorCode',
  'triggeredBy',
  'startedAt',
  'finishedAt',
] as const;
export const executionView = {
  type: 'object',
  additionalProperties: false,
  required: executionRequired,
  properties: executionProps,
} as const;

const anyJson = {} as const;
export const stepRunView = {
  type: 'object',
  additionalProperties: false,
  required: [
    'stepId',
    'kind',
    'seq',
    'attempt',
    'status',
    'output',
    'errorCode',
    'scheduledAt',
    'startedAt',
    'finishedAt',
  ],
  properties: {
    stepId: { type: 'string' },
    kind: { type: 'string' },
    seq: { type: 'integer' },
    attempt: { type: 'integer' },
    status: { type: 'string' },
    output: anyJson,
    errorCode: { type: ['string', 'null'] },
    scheduledAt: iso,
    startedAt: isoOrNull,
    finishedAt: isoOrNull,
  },
} as const;
export const executionDetail = {
  type: 'object',
  additionalProperties: false,
  required: [...executionRequired, 'input', 'output', 'steps'],
  properties: { ...executionProps, input: anyJson, output: anyJson, steps: { type: 'array', items: stepRunView } },
} as const;

export const runFlow = {
  params: idParams,
  /** The run's input; checked against the published version's inputSchema by the engine. */
  body: { type: 'object' },
  response: { 201: executionView },
} as const;
export const listExecutions = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...listQuery.properties,
      flowId,
      status: { enum: EXECUTION_STATUSES },
    },
  },
  response: { 200: listResponse(executionView) },
} as const;
export const getExecution = { params: executionParams, response: { 200: executionDetail } } as const;
export const cancelExecution = { params: executionParams, response: { 200: executionView } } as const;
