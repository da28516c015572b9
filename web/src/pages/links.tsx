import { useState } from 'preact/hooks';
import { renderSVG } from 'uqr';
import { get, type App, type Link, type List, type One, patch, post } from '../api.ts';
import { useSession } from '../session.ts';
import {
  CreateActions,
  CopyButton,
  ErrorBox,
  Field,
  Loading,
  Select,
  useLoad,
  useFormSubmit,
} from '../ui.tsx';

const NETWORKS: [string, string][] = [
  ['meta', 'Meta'],
  ['google', 'Google Ads'],
  ['tiktok', 'TikTok'],
  ['apple_search_ads', 'Apple Search Ads'],
  ['other', 'Other'],
];

/** Tracking links: create, archive, copy their URLs and the network's parameter template, a QR code. */
export function LinksTab({ app }: { app: App }) {
  const { canEdit } = useSession();
  const [creating, setCreating] = useState(false);
  const links = useLoad(
    () => get<List<Link>>(`/apps/${app.id}/links?limit=200`).then((r) => r.data),
    [app.id],
  );
  const [error, setError] = useState<Error | null>(null);
  const archive = async (l: Link) => {
    setError(null);
    try {
      await patch(`/apps/${app.id}/links/${encodeURIComponent(l.id)}`, { archived: true });
      links.reload();
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <div>
      <div class="title-row">
        <h2>Links</h2>
        {canEdit && !creating && (
          <button type="button" onClick={() => setCreating(true)}>
            New link
          </button>
        )}
      </div>
      {creating && (
        <CreateLink
          app={app}
          onDone={() => (setCreating(false), links.reload())}
          onCancel={() => setCreating(false)}
        />
      )}
      {links.loading && <Loading what="Loading links" />}
      <ErrorBox error={links.error ?? error} />
      {links.data?.length === 0 && <p>No links yet.</p>}
      {links.data?.map((l) => (
        <article class="card link" key={l.id}>
          <div class="link-head">
            <div>
              <h3>{l.name}</h3>
              <p class="muted">
                {l.network}
                {l.campaignName ? ` · ${l.campaignName}` : ''}
              </p>
            </div>
            <div
              class="qr"
              role="img"
              aria-label={`QR code of ${l.urls.click}`}
              // uqr renders a self-contained SVG from the URL (no outside request).
              dangerouslySetInnerHTML={{ __html: renderSVG(l.urls.click, { border: 1 }) }}
            />
          </div>
          <dl>
            <dt>Click URL</dt>
            <dd>
              <code>{l.urls.click}</code> <CopyButton text={l.urls.click} />
            </dd>
            <dt>Landing page</dt>
            <dd>
              <code>{l.urls.landing}</code> <CopyButton text={l.urls.landing} />
            </dd>
            <dt>Parameters for {l.network}</dt>
            <dd>
              <code class="wrap">{l.urls.parameters || '–'}</code>{' '}
              {l.urls.parameters && <CopyButton text={l.urls.parameters} />}
            </dd>
          </dl>
          {canEdit && (
            <button type="button" class="secondary small" onClick={() => archive(l)}>
              Archive
            </button>
          )}
        </article>
      ))}
    </div>
  );
}

function CreateLink({
  app,
  onDone,
  onCancel,
}: {
  app: App;
  onDone: () => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState('');
  const [network, setNetwork] = useState('meta');
  const [campaignName, setCampaign] = useState('');
  const { busy, error, submit } = useFormSubmit();
  const create = async () => {
    await post<One<Link>>(`/apps/${app.id}/links`, {
      name: name || undefined,
      network,
      campaignName: campaignName || null,
    });
    onDone();
  };
  return (
    <form class="card" onSubmit={submit(create)} aria-label="New link">
      <h3>New link</h3>
      <div class="grid">
        <Field
          label="Name"
          name="linkName"
          value={name}
          onInput={setName}
          placeholder="Meta — summer launch"
        />
        <Select
          label="Network"
          name="network"
          value={network}
          options={NETWORKS}
          onChange={setNetwork}
        />
        <Field
          label="Campaign"
          name="campaignName"
          value={campaignName}
          onInput={setCampaign}
          placeholder="summer_launch"
        />
      </div>
      <ErrorBox error={error} />
      <CreateActions what="link" busy={busy} onCancel={onCancel} />
    </form>
  );
}
