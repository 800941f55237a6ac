import { scopeAllows, unknownScopes } from './scopes';

describe('scope catalogue', () => {
  it('accepts catalogue scopes and refuses others, per integration', () => {
    expect(unknownScopes('salesforce', ['records:read', 'records:write'])).toEqual([]);
    expect(unknownScopes('salesforce', ['invoices:read'])).toEqual(['invoices:read']);
    expect(unknownScopes('google_drive', ['drive:folder:1AbC-x_9'])).toEqual([]);
    expect(unknownScopes('google_drive', ['drive:folder:', 'drive:folder:a/b'])).toHaveLength(2);
  });

  it('enforces read vs write vs delete', () => {
    expect(scopeAllows('quickbooks', ['invoices:read'], 'invoices:read')).toBe(true);
    expect(scopeAllows('quickbooks', ['invoices:read'], 'invoices:write')).toBe(false);
    expect(scopeAllows('quickbooks', ['invoices:write'], 'invoices:delete')).toBe(false);
    expect(scopeAllows('salesforce', ['records:read'], 'records:write')).toBe(false);
  });

  it('lets Drive full access cover read-only and any folder, but one folder covers only itself', () => {
    expect(scopeAllows('google_drive', ['drive:full'], 'drive:readonly')).toBe(true);
    expect(scopeAllows('google_drive', ['drive:full'], 'drive:folder:abc')).toBe(true);
    expect(scopeAllows('google_drive', ['drive:folder:abc'], 'drive:folder:abc')).toBe(true);
    expect(scopeAllows('google_drive', ['drive:folder:abc'], 'drive:folder:abd')).toBe(false);
    expect(scopeAllows('google_drive', ['drive:folder:abc'], 'drive:readonly')).toBe(false);
    expect(scopeAllows('google_drive', ['drive:readonly'], 'drive:full')).toBe(false);
  });

  it('refuses a required scope from another integration even if the string is held', () => {
    expect(scopeAllows('slack', ['records:read'], 'records:read')).toBe(false);
  });
});
