import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectionConfig, DbConfigError, loadMigrations, MigrationError, render } from './index';

function tmpCa(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flow8-db-'));
  const f = join(dir, 'ca.pem');
  writeFileSync(f, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  return f;
}

describe('connectionConfig', () => {
  const caFile = tmpCa();
  test.each(['disable', 'require', 'verify-ca', null])('refuses sslmode=%s', (mode) => {
    const url = `postgres://u:p@localhost:5432/db${mode ? `?sslmode=${mode}` : ''}`;
    expect(() => connectionConfig({ url, caFile })).toThrow(DbConfigError);
  });

  test('verify-full pins the CA and checks the host name; the password is not in the error', () => {
    const cfg = connectionConfig({
      url: 'postgres://audit_app:s3cr%40t@db.local:55432/audit?sslmode=verify-full',
      caFile,
    });
    expect(cfg).toMatchObject({
      host: 'db.local',
      port: 55432,
      user: 'audit_app',
      password: 's3cr@t',
      database: 'audit',
    });
    expect(cfg.ssl).toMatchObject({ rejectUnauthorized: true, servername: 'db.local' });
    const refused = () => connectionConfig({ url: 'postgres://u:hunter2@h/db?sslmode=require', caFile });
    expect(refused).toThrow(DbConfigError);
    expect(refused).not.toThrow(/hunter2/);
  });

  test('a missing CA file is a clear error', () => {
    expect(() => connectionConfig({ url: 'postgres://u:p@h/db?sslmode=verify-full', caFile: '/nope/ca.pem' })).toThrow(
      /CA file/,
    );
  });
});

describe('migrations', () => {
  test('load in version order with checksums and refuse badly named or duplicate files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flow8-mig-'));
    writeFileSync(join(dir, '0002_second.sql'), 'select 2;');
    writeFileSync(join(dir, '0001_first.sql'), 'select 1;');
    const ms = loadMigrations(dir);
    expect(ms.map((m) => m.version)).toEqual([1, 2]);
    expect(ms[0]?.checksum).toMatch(/^[0-9a-f]{64}$/);
    writeFileSync(join(dir, '0002_again.sql'), 'select 3;');
    expect(() => loadMigrations(dir)).toThrow(/duplicate/);
    const bad = mkdtempSync(join(tmpdir(), 'flow8-mig-'));
    writeFileSync(join(bad, 'first.sql'), 'select 1;');
    expect(() => loadMigrations(bad)).toThrow(MigrationError);
  });

  test('render quotes role names and refuses unknown placeholders', () => {
    expect(render('GRANT SELECT ON t TO ${app_role};', { app_role: 'audit_app' })).toBe(
      'GRANT SELECT ON t TO "audit_app";',
    );
    expect(render('x ${app_role}', { app_role: 'a"b' })).toBe('x "a""b"');
    expect(() => render('GRANT ${nope}', {})).toThrow(/nope/);
  });
});
