/**
 * Issue 10, defect 6 on the management API: a NUL (U+0000) in any body field, path or query value
 * is a 400 naming the field (one rule in the validator of every route), and PostgreSQL's
 * invalid-text errors are a 400 as a backstop, never a 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  appBody,
  createOrg,
  startTestServer,
  type Org,
  type TestServer,
} from '../../test/helpers.ts';
import { isInvalidTextError } from '../db/errors.ts';
import { toApiError } from './server.ts';

let t: TestServer;
let org: Org;
let key: string;
let appId: string;
beforeAll(async () => {
  t = await startTestServer();
  org = await createOrg(t);
  key = await org.key('full');
  const r = await api(t, 'POST', '/api/v1/apps', { auth: key, body: appBody() });
  appId = r.body.data.id;
});
afterAll(() => t?.close());

const expectNul400 = (r: { status: number; body: any }, path: string) => {
  expect(r.status).toBe(400);
  expect(r.body.error.code).toBe('validation_error');
  expect(r.body.error.details).toEqual([
    { path, message: 'must not contain the NUL character (U+0000)' },
  ]);
};

describe('NUL in the management API', () => {
  it('in a JSON body field (top level, nested, a key), with an API key and with a session', async () => {
    expectNul400(
      await api(t, 'POST', '/api/v1/apps', {
        auth: key,
        body: appBody({ name: 'Fit\u0000Track' }),
      }),
      'name',
    );
    expectNul400(
      await api(t, 'PATCH', `/api/v1/apps/${appId}`, {
        auth: key,
        body: { legacyAppId: 'x\u0000' },
      }),
      'legacyAppId',
    );
    expectNul400(
      await api(t, 'POST', `/api/v1/apps/${appId}/links`, {
        auth: key,
        body: { customData: { screen: 'pay\u0000wall' } },
      }),
      'customData.screen',
    );
    expectNul400(
      await api(t, 'POST', `/api/v1/apps/${appId}/links`, {
        auth: key,
        body: { customData: { 'a\u0000': 'b' } },
      }),
      'customData.a\\u0000',
    );
    expectNul400(
      await api(t, 'POST', '/api/v1/api-keys', {
        auth: org.session,
        body: { name: 'ci\u0000', permission: 'full' },
      }),
      'name',
    );
    // Nothing was written: the app keeps its name, no link was created.
    const app = await api(t, 'GET', `/api/v1/apps/${appId}`, { auth: key });
    expect(app.body.data).toMatchObject({ name: 'FitTrack', legacyAppId: null });
    expect((await api(t, 'GET', `/api/v1/apps/${appId}/links`, { auth: key })).body.data).toEqual(
      [],
    );
  });

  it('in a path parameter', async () => {
    expectNul400(await api(t, 'GET', '/api/v1/apps/app_%00', { auth: key }), 'appId');
    expectNul400(
      await api(t, 'GET', `/api/v1/apps/${appId}/links/ab%00c`, { auth: key }),
      'linkId',
    );
    expectNul400(await api(t, 'GET', '/api/v1/apps/%00/overview', { auth: key }), 'appId');
  });

  it('in a query parameter (single and repeated)', async () => {
    expectNul400(
      await api(t, 'GET', `/api/v1/apps/${appId}/events?eventName=purchase%00`, { auth: key }),
      'eventName',
    );
    expectNul400(
      await api(t, 'GET', `/api/v1/apps/${appId}/events?deviceId=%00`, { auth: key }),
      'deviceId',
    );
    expectNul400(
      await api(t, 'GET', `/api/v1/apps/${appId}/overview?network=meta&network=x%00`, {
        auth: key,
      }),
      'network.1',
    );
    expectNul400(
      await api(t, 'GET', `/api/v1/apps/${appId}/stats?campaign=%00`, { auth: key }),
      'campaign',
    );
  });

  it('the login form too (no credential needed to reach it)', async () => {
    const r = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: 'a\u0000@example.com', password: 'x' },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('validation_error');
  });
});

describe('PostgreSQL invalid-text errors are a 400 (backstop)', () => {
  it('22021, 22P05 and a JSON 22P02 from the database become validation errors', async () => {
    for (const statement of [
      t.sql`select ${'a\u0000b'}::text`,
      t.sql`select ${'{"a":"\\u0000"}'}::text::jsonb`,
      t.sql`select ${'{"a": "\\u12"}'}::text::jsonb`,
    ]) {
      const err = await statement.then(
        () => null,
        (e: unknown) => e,
      );
      expect(isInvalidTextError(err)).toBe(true);
      expect(toApiError(err as never)).toMatchObject({ statusCode: 400, code: 'validation_error' });
    }
  });

  it('other database errors stay 500s', async () => {
    const err = await t.sql`select ${'abc'}::bigint`.then(
      () => null,
      (e: unknown) => e,
    );
    expect(isInvalidTextError(err)).toBe(false);
    expect(toApiError(err as never).statusCode).toBe(500);
  });
});
