import { GRANT_ACTIONS } from '@flow8/authz';
import { listQuery, listResponse } from '@flow8/http';

const ID = (prefix: string) => ({ type: 'string', pattern: `^${prefix}_[0-9a-z]{26}$` }) as const;
const allActions = [...new Set(Object.values(GRANT_ACTIONS).flat())];

const partitionView = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'description', 'createdAt'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    description: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
} as const;

export const createPartitionSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
      description: { type: 'string', maxLength: 2000 },
    },
  },
  response: { 201: partitionView },
} as const;

export const listPartitionsSchema = {
  querystring: listQuery,
  response: {
    200: listResponse(partitionView),
  },
} as const;

const principal = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id'],
  properties: { type: { enum: ['user', 'api_key'] }, id: { type: 'string', pattern: '^(usr|key)_[0-9a-z]{26}$' } },
} as const;

/**
 * Resource ids: a flow is `flw_…`, a partition `prt_…`; an integration is named by the vault
 * (`crd_…`) or by its connector, hence the looser pattern. The per-type rules (which actions
 * apply to which type) are packages/authz's validateGrant.
 */
const resource = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id'],
  properties: {
    type: { enum: ['flow', 'integration', 'partition'] },
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9_.:-]{0,127}$' },
  },
} as const;

const grantView = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'principal', 'resource', 'actions', 'createdAt', 'createdBy'],
  properties: {
    id: { type: 'string' },
    principal,
    resource,
    actions: { type: 'array', items: { type: 'string' } },
    createdAt: { type: 'string' },
    createdBy: { type: 'string' },
  },
} as const;

export const giveGrantSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['principal', 'resource', 'actions'],
    properties: {
      principal,
      resource,
      actions: { type: 'array', minItems: 1, maxItems: 20, uniqueItems: true, items: { enum: allActions } },
    },
  },
  response: { 201: grantView },
} as const;

export const listGrantsSchema = {
  querystring: {
    ...listQuery,
    properties: {
      ...listQuery.properties,
      principalId: { type: 'string', pattern: '^(usr|key)_[0-9a-z]{26}$' },
      resourceId: { type: 'string', minLength: 1, maxLength: 128 },
    },
  },
  response: {
    200: listResponse(grantView),
  },
} as const;

export const removeGrantSchema = {
  params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: ID('grt') } },
  response: { 204: { type: 'null' } },
} as const;
