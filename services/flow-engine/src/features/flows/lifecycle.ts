// The flow lifecycle (pure): draft → published → archived. Saving a new version keeps a
// published flow published (it keeps running its published version until the new one is
// published); an archived flow takes no new versions and cannot be published.
import type { FlowStatus } from './flows.repo';

export type FlowAction = 'save' | 'publish' | 'archive';

export function lifecycle(
  status: FlowStatus,
  action: FlowAction,
): { ok: true; next: FlowStatus } | { ok: false; reason: string } {
  if (status === 'archived')
    return {
      ok: false,
      reason: `an archived flow cannot ${action === 'save' ? 'be saved' : action === 'publish' ? 'be published' : 'be archived again'}`,
    };
  switch (action) {
    case 'save':
      return { ok: true, next: status };
    case 'publish':
      return { ok: true, next: 'published' };
    case 'archive':
      return { ok: true, next: 'archived' };
    default: {
      const never: never = action;
      return never;
    }
  }
}
