// Route schemas: params, bodies and — so nothing else can leak — responses. The definition body
// is checked in full by the service (JSON Schema + graph + CEL, every problem with its pointer).
import { listQuery, listResponse } from '@flow8/http';

const flowId = { type: 'string', pattern: '^flw_[0-9a-z]{26}$' } as const;
const idParams = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: flowId } } as const;
const versionParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'version'],
  properties: { id: flowId, version: { type: 'integer', minimum: 1, maximum: 2147483647 } },
} as const;
const iso = { type: 'string', maxLength: 32 } as const;

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
    archivedAt: { type: ['string', 'null'], maxLength: 32 },
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

export const createFlowSchema = { body: definitionBody, response: { 201: flowView } } as const;
export const listFlowsSchema = { querystring: listQuery, response: { 200: listResponse(flowView) } } as const;
export const getFlowSchema = { params: idParams, response: { 200: flowView } } as const;
export const saveVersionSchema = { params: idParams, body: definitionBody, response: { 201: versionView } } as const;
export const listVersionsSchema = {
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
export const getVersionSchema = { params: versionParams, response: { 200: versionWithDefinition } } as const;
export const publishSchema = {
  params: idParams,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['version'],
    properties: { version: { type: 'integer', minimum: 1, maximum: 2147483647 } },
  },
  response: { 200: flowView },
} as const;
export const archiveSchema = { params: idParams, response: { 200: flowView } } as const;
