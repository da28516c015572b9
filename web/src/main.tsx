import { render } from 'preact';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, csrf, get, type Me, type One, post, whenSignedOut } from './api.ts';
import { ApiKeysPage } from './pages/api-keys.tsx';
import { AppPage } from './pages/app.tsx';
import { AppsPage } from './pages/apps.tsx';
import { PortfolioPage } from './pages/portfolio.tsx';
import { PasswordPage } from './pages/password.tsx';
import { InvitePage, LoginPage, SetupPage } from './pages/sign-in.tsx';
import { TeamPage } from './pages/team.tsx';
import { canEdit, SessionContext } from './session.ts';
import './styles.css';

function Shell() {
  const { path, route } = useLocation();
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);

  const refresh = useCallback(async () => {
    try {
      setMe((await get<One<Me>>('/me')).data);
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setMe(null);
      else setError(e as Error);
    }
  }, []);
  useEffect(() => {
    whenSignedOut(() => setMe(null));
    void refresh();
  }, [refresh]);

  // The invitation page is shown whoever is signed in: accepting signs in as the invitee.
  const invitePage = path === '/invite';
  const publicPage = path === '/login' || path === '/setup' || invitePage;
  useEffect(() => {
    if (me === null && !publicPage) route('/login', true);
    if (me && ((publicPage && !invitePage) || path === '/')) route('/apps', true);
  }, [me, publicPage, invitePage, path, route]);

  if (error) {
    return (
      <main class="narrow">
        <div class="error" role="alert">
          {error.message}{' '}
          <button type="button" onClick={refresh}>
            Retry
          </button>
        </div>
      </main>
    );
  }
  if (invitePage)
    return (
      <InvitePage
        onSignedIn={async () => {
          await refresh();
          route('/apps');
        }}
      />
    );
  if (publicPage) {
    return path === '/setup' ? (
      <SetupPage onSignedIn={refresh} />
    ) : (
      <LoginPage onSignedIn={refresh} />
    );
  }
  if (!me)
    return (
      <p class="loading" role="status">
        Loading…
      </p>
    );

  const signOut = async () => {
    await post('/auth/logout').catch(() => {});
    csrf.clear();
    setMe(null);
  };
  return (
    <SessionContext.Provider value={{ me, canEdit: canEdit(me), refresh, signOut }}>
      <header class="top">
        <a class="brand" href="/apps">
          AppRefer<span>attribution</span>
        </a>
        <nav aria-label="Main">
          <a href="/apps" aria-current={path.startsWith('/apps') ? 'page' : undefined}>
            Apps
          </a>
          <a href="/portfolio" aria-current={path.startsWith('/portfolio') ? 'page' : undefined}>
            Portfolio
          </a>
          <a
            href="/settings/team"
            aria-current={path.startsWith('/settings/team') ? 'page' : undefined}
          >
            Team
          </a>
          <a
            href="/settings/api-keys"
            aria-current={path.startsWith('/settings/api-keys') ? 'page' : undefined}
          >
            API keys
          </a>
        </nav>
        <div class="who">
          <span>
            {me.user?.email} · {me.organization.name} · {me.user?.role}
          </span>
          <a
            href="/settings/password"
            aria-current={path.startsWith('/settings/password') ? 'page' : undefined}
          >
            Password
          </a>
          <button type="button" class="small" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main>
        <Router>
          <Route path="/apps" component={AppsPage} />
          <Route path="/apps/:appId/:tab?/:section?" component={AppPage} />
          <Route path="/portfolio" component={PortfolioPage} />
          <Route path="/settings/api-keys" component={ApiKeysPage} />
          <Route path="/settings/team" component={TeamPage} />
          <Route path="/settings/password" component={PasswordPage} />
          <Route default component={NotFound} />
        </Router>
      </main>
    </SessionContext.Provider>
  );
}

const NotFound = () => (
  <section>
    <h1>Not found</h1>
    <p>
      <a href="/apps">Back to your apps</a>
    </p>
  </section>
);

render(
  <LocationProvider>
    <Shell />
  </LocationProvider>,
  document.getElementById('app')!,
);
