/**
 * Test helpers of the SDK ingestion tests: apps with known SDK keys, click rows written with SQL
 * (the links module writes them in production), raw SDK posts, and a fake Apple AdServices server.
 */
import { createServer, type Server } from 'node:http';
import type { Sql } from '../../db/client.ts';
import { randomBase62 } from '../../lib/crypto.ts';
import { api, appBody, createOrg, type TestServer } from '../../../test/helpers.ts';

export type SdkApp = { appId: string; live: string; test: string; apiKey: string };

/** An app created through the REST API; `keys` pins its SDK keys (the fixtures use fixed ones). */
export async function createSdkApp(
  t: TestServer,
  over: Record<string, unknown> = {},
  keys?: { live: string; test: string },
): Promise<SdkApp> {
  const org = await createOrg(t);
  const apiKey = await org.key('full');
  const r = await api(t, 'POST', '/api/v1/apps', { auth: apiKey, body: appBody(over) });
  if (r.status !== 201) throw new Error(`app create failed: ${r.status} ${JSON.stringify(r.body)}`);
  const appId = r.body.data.id as string;
  if (keys)
    await t.sql`update apps set sdk_key_live = ${keys.live}, sdk_key_test = ${keys.test} where id = ${appId}`;
  const [row] = await t.sql<
    { sdk_key_live: string; sdk_key_test: string }[]
  >`select sdk_key_live, sdk_key_test from apps where id = ${appId}`;
  return { appId, live: row.sdk_key_live, test: row.sdk_key_test, apiKey };
}

export const newClickId = () => `arc_${randomBase62(20)}`;

export type ClickInput = {
  id?: string;
  appId: string;
  linkId?: string;
  environment?: 'live' | 'sandbox';
  clickedAt?: Date;
  minutesAgo?: number;
  network?: string;
  campaign?: string | null;
  campaignId?: string | null;
  campaignName?: string | null;
  adGroupId?: string | null;
  adId?: string | null;
  fbclid?: string | null;
  gclid?: string | null;
  ttclid?: string | null;
  utmSource?: string | null;
  utmCampaign?: string | null;
  idfa?: string | null;
  gaid?: string | null;
  queryParams?: Record<string, string>;
  ip?: string | null;
  userAgent?: string | null;
  platform?: string | null;
  osVersion?: string | null;
  language?: string | null;
  deviceModel?: string | null;
  isBot?: boolean;
  linkCustomData?: Record<string, string>;
  linkCampaignName?: string | null;
};

/** Writes a link (once per id) and a click row as the links module would. Returns the click id. */
export async function insertClick(sql: Sql, c: ClickInput): Promise<string> {
  const id = c.id ?? newClickId();
  const linkId = c.linkId ?? `link-${c.appId}`;
  await sql`
    insert into links (id, app_id, name, network, campaign_name, custom_data)
    values (${linkId}, ${c.appId}, ${linkId}, ${c.network ?? 'meta'}, ${c.linkCampaignName ?? null}, ${sql.json(c.linkCustomData ?? {})})
    on conflict (id) do update set custom_data = excluded.custom_data, campaign_name = excluded.campaign_name`;
  const clickedAt = c.clickedAt ?? new Date(Date.now() - (c.minutesAgo ?? 10) * 60_000);
  await sql`
    insert into clicks (id, app_id, link_id, environment, clicked_at, network, campaign, campaign_id, campaign_name, ad_group_id, ad_id,
      fbclid, gclid, ttclid, utm_source, utm_campaign, idfa, gaid, query_params, ip, user_agent, platform, os_version, language,
      device_model, is_bot)
    values (${id}, ${c.appId}, ${linkId}, ${c.environment ?? 'live'}, ${clickedAt}, ${c.network ?? 'meta'}, ${c.campaign ?? null},
      ${c.campaignId ?? null}, ${c.campaignName ?? null}, ${c.adGroupId ?? null}, ${c.adId ?? null}, ${c.fbclid ?? null},
      ${c.gclid ?? null}, ${c.ttclid ?? null}, ${c.utmSource ?? null}, ${c.utmCampaign ?? null}, ${c.idfa ?? null}, ${c.gaid ?? null},
      ${sql.json(c.queryParams ?? {})}, ${c.ip ?? null}, ${c.userAgent ?? 'Mozilla/5.0'}, ${c.platform ?? null}, ${c.osVersion ?? null},
      ${c.language ?? null}, ${c.deviceModel ?? null}, ${c.isBot ?? false})`;
  return id;
}

export type SdkResponse = { status: number; headers: Headers; text: string; json: any };

/** POSTs raw bytes exactly as given, with exactly the given headers. */
export async function sdkPost(
  t: TestServer,
  path: string,
  body: string | Buffer,
  headers: Record<string, string>,
  method = 'POST',
): Promise<SdkResponse> {
  const res = await fetch(t.url + path, {
    method,
    headers,
    body:
      method === 'GET' || method === 'HEAD'
        ? undefined
        : typeof body === 'string'
          ? body
          : new Uint8Array(body),
    redirect: 'manual',
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** configure / event with a JSON body and a key. */
export function track(
  t: TestServer,
  kind: 'configure' | 'event',
  key: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return sdkPost(t, `/api/track/${kind}`, JSON.stringify(body), {
    'content-type': 'application/json',
    'x-apprefer-key': key,
    ...headers,
  });
}

/** An AdServices token as the iOS SDK sends it (base64 with + and /), and Apple's answer for an attributed install. */
export const APPLE_TOKEN =
  'oF+knBUc6MM6G9nH9+tiLeTLMOgqxedIpRKABiAB17BUkLBZTlyfXp3JHKMXuKvkVDM7jUeMViw4vhEPdx355004ra83LQu1o+kbaP6h5QeMOyxr5rY47VeAF/32TMxpaydQ==';
export const APPLE_ATTRIBUTED = {
  attribution: true,
  orgId: 40669820,
  campaignId: 542370539,
  conversionType: 'Download',
  claimType: 'Click',
  adGroupId: 542317095,
  countryOrRegion: 'US',
  keywordId: 87675432,
  adId: 542317136,
  clickDate: '2026-11-23T08:01Z',
};

export type AppleReply = { status: number; body?: unknown; delayMs?: number };

/** A fake Apple AdServices endpoint: replies from a script, then `fallback`. Records what it got. */
export async function startAppleFake(
  fallback: AppleReply = { status: 200, body: { attribution: false } },
) {
  const script: AppleReply[] = [];
  const received: { token: string; contentType: string | undefined }[] = [];
  const state = { fallback };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({
        token: Buffer.concat(chunks).toString('utf8'),
        contentType: req.headers['content-type'],
      });
      const reply = script.shift() ?? state.fallback;
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(
          reply.body === undefined
            ? ''
            : typeof reply.body === 'string'
              ? reply.body
              : JSON.stringify(reply.body),
        );
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/api/v1/`,
    script,
    received,
    state,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export { eventually } from '../../../test/helpers.ts';
