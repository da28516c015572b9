import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from './api.ts';

/** Runs `load` on mount and whenever `deps` change; the page shows loading, error or data. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data: T | null; error: Error | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export const Loading = ({ what = 'Loading' }: { what?: string }) => (
  <p class="loading" role="status">
    {what}…
  </p>
);

export function ErrorBox({ error }: { error: Error | null }) {
  if (!error) return null;
  const details = error instanceof ApiError ? error.details : undefined;
  return (
    <div class="error" role="alert">
      <strong>{error.message}</strong>
      {details && details.length > 0 && (
        <ul>
          {details.map((d) => (
            <li key={d.path}>
              <code>{d.path}</code>: {d.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="small"
      onClick={async () => {
        await navigator.clipboard?.writeText(text).catch(() => {});
        setDone(true);
        setTimeout(() => setDone(false), 1500);
      }}
      aria-label={`${label}: ${text}`}
    >
      {done ? 'Copied' : label}
    </button>
  );
}

export function Field(props: {
  label: string;
  name: string;
  value: string;
  onInput: (v: string) => void;
  type?: 'text' | 'email' | 'password' | 'number' | 'date';
  required?: boolean;
  placeholder?: string;
  hint?: string;
  autoComplete?: string;
  min?: string | number;
  max?: string | number;
  step?: string | number;
}) {
  const id = `f-${props.name}`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={(props.type ?? 'text') as 'text'}
        value={props.value}
        required={props.required}
        placeholder={props.placeholder}
        autoComplete={props.autoComplete}
        min={props.min}
        max={props.max}
        step={props.step}
        aria-describedby={props.hint ? `${id}-hint` : undefined}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
      {props.hint && <small id={`${id}-hint`}>{props.hint}</small>}
    </div>
  );
}

/** A labelled checkbox with an optional hint. */
export function Check(props: {
  label: string;
  name: string;
  checked: boolean;
  onChange: (v: boolean) => void;
  hint?: string;
}) {
  const id = `f-${props.name}`;
  return (
    <div class="field">
      <label for={id}>
        <input
          id={id}
          name={props.name}
          type="checkbox"
          checked={props.checked}
          aria-describedby={props.hint ? `${id}-hint` : undefined}
          onChange={(e) => props.onChange((e.target as HTMLInputElement).checked)}
        />{' '}
        {props.label}
      </label>
      {props.hint && <small id={`${id}-hint`}>{props.hint}</small>}
    </div>
  );
}

/** A row of links to the sections of a page; the current one marked. */
export const SubNav = ({
  label,
  items,
  current,
}: {
  label: string;
  items: [href: string, text: string][];
  current: string;
}) => (
  <nav class="subnav" aria-label={label}>
    {items.map(([href, text]) => (
      <a key={href} href={href} aria-current={href === current ? 'page' : undefined}>
        {text}
      </a>
    ))}
  </nav>
);

/** Pretty JSON for a <pre>. */
export const json = (v: unknown) => JSON.stringify(v, null, 2);

export function Select(props: {
  label: string;
  name: string;
  value: string;
  options: [string, string][];
  onChange: (v: string) => void;
  disabled?: boolean;
}) {
  const id = `f-${props.name}`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select
        id={id}
        name={props.name}
        value={props.value}
        disabled={props.disabled}
        onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}
      >
        {props.options.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
    </div>
  );
}

export const Card = ({ title, children }: { title: string; children: ComponentChildren }) => (
  <section class="card">
    <h2>{title}</h2>
    {children}
  </section>
);

/**
 * A form's submit handler: busy while `action` runs, its error kept for an ErrorBox, the browser's
 * own submit prevented.
 */
export function useFormSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const submit = (action: () => Promise<unknown>) => async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, submit };
}

/** The submit and cancel buttons of a "New …" form. */
export const CreateActions = ({
  what,
  busy,
  onCancel,
}: {
  what: string;
  busy: boolean;
  onCancel: () => void;
}) => (
  <div class="actions">
    <button type="submit" disabled={busy}>
      {busy ? 'Creating…' : `Create ${what}`}
    </button>
    <button type="button" class="secondary" onClick={onCancel}>
      Cancel
    </button>
  </div>
);

/** Keyset pages: the cursors of the pages seen so far, the last one being the current page's. */
export function useCursorPages() {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  return {
    cursor: cursors[cursors.length - 1],
    reset: () => setCursors([null]),
    pager: (meta: { hasMore: boolean; cursor: string | null }) => (
      <div class="actions pager">
        <button
          type="button"
          class="secondary"
          disabled={cursors.length === 1}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          Previous
        </button>
        <button
          type="button"
          class="secondary"
          disabled={!meta.hasMore}
          onClick={() => setCursors([...cursors, meta.cursor])}
        >
          Next
        </button>
      </div>
    ),
  };
}
