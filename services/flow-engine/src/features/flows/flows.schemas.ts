// Route schemas: the public API's (@flow8/api § Flows), so the gateway and the engine validate
// with the very same objects. The definition body is checked in full by the service.
import { flows } from '@flow8/api';

export const flowView = flows.flowView;
export const versionView = flows.versionView;
export const createFlowSchema = flows.createFlow;
export const listFlowsSchema = flows.listFlows;
export const getFlowSchema = flows.getFlow;
export const saveVersionSchema = flows.saveVersion;
export const listVersionsSchema = flows.listVersions;
export const getVersionSchema = flows.getVersion;
export const publishSchema = flows.publishFlow;
export const archiveSchema = flows.archiveFlow;
