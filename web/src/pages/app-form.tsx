import type { App } from '../api.ts';
import { Check, Field } from '../ui.tsx';

/** The attribution windows and qualified-trial settings of an app, as the form edits them. */
export type RulesForm = {
  clickWindowHours: string;
  probabilisticEnabled: boolean;
  probabilisticWindowHours: string;
  reattributionWindowDays: string;
  qualifiedTrialsEnabled: boolean;
  delayHours: string;
};

/** The API's defaults for a new app (docs/spec/api.md, App). */
export const DEFAULT_RULES: RulesForm = {
  clickWindowHours: '168',
  probabilisticEnabled: true,
  probabilisticWindowHours: '24',
  reattributionWindowDays: '90',
  qualifiedTrialsEnabled: false,
  delayHours: '2',
};

export const rulesOf = (app: App): RulesForm => ({
  clickWindowHours: String(app.attributionSettings.clickWindowHours),
  probabilisticEnabled: app.attributionSettings.probabilisticEnabled,
  probabilisticWindowHours: String(app.attributionSettings.probabilisticWindowHours),
  reattributionWindowDays: String(app.attributionSettings.reattributionWindowDays),
  qualifiedTrialsEnabled: app.qualifiedTrials.enabled,
  delayHours: String(app.qualifiedTrials.delayHours),
});

/** A number as typed; an empty or malformed field is sent as typed so that the API names it. */
const num = (s: string): number | string => (s.trim() !== '' && !isNaN(Number(s)) ? Number(s) : s);

/** The `attributionSettings` and `qualifiedTrials` of a create or update body. */
export const rulesBody = (f: RulesForm) => ({
  attributionSettings: {
    clickWindowHours: num(f.clickWindowHours),
    probabilisticEnabled: f.probabilisticEnabled,
    probabilisticWindowHours: num(f.probabilisticWindowHours),
    reattributionWindowDays: num(f.reattributionWindowDays),
  },
  qualifiedTrials: { enabled: f.qualifiedTrialsEnabled, delayHours: num(f.delayHours) },
});

/** Attribution windows and qualified trials: two fieldsets of the app forms. */
export function RulesFields({
  value: f,
  onChange,
  prefix,
}: {
  value: RulesForm;
  onChange: (f: RulesForm) => void;
  prefix: string;
}) {
  const set =
    <K extends keyof RulesForm>(k: K) =>
    (v: RulesForm[K]) =>
      onChange({ ...f, [k]: v });
  return (
    <>
      <fieldset class="group">
        <legend>Attribution windows</legend>
        <div class="grid">
          <Field
            label="Click window (hours)"
            name={`${prefix}clickWindowHours`}
            type="number"
            min={1}
            max={720}
            step={1}
            value={f.clickWindowHours}
            onInput={set('clickWindowHours')}
            hint="How long after a click an install is credited to it by click id or device id (1–720)"
          />
          <Field
            label="Probabilistic window (hours)"
            name={`${prefix}probabilisticWindowHours`}
            type="number"
            min={1}
            max={168}
            step={1}
            value={f.probabilisticWindowHours}
            onInput={set('probabilisticWindowHours')}
            hint="For matches by IP address and device signals (1–168)"
          />
          <Field
            label="Re-attribution window (days)"
            name={`${prefix}reattributionWindowDays`}
            type="number"
            min={0}
            max={400}
            step={1}
            value={f.reattributionWindowDays}
            onInput={set('reattributionWindowDays')}
            hint="A reinstall with a new click is credited anew only after this many days (0–400)"
          />
          <Check
            label="Probabilistic matching"
            name={`${prefix}probabilisticEnabled`}
            checked={f.probabilisticEnabled}
            onChange={set('probabilisticEnabled')}
            hint="When no click id or device id matches"
          />
        </div>
      </fieldset>
      <fieldset class="group">
        <legend>Qualified trials</legend>
        <div class="grid">
          <Check
            label="Forward only qualified trials"
            name={`${prefix}qualifiedTrialsEnabled`}
            checked={f.qualifiedTrialsEnabled}
            onChange={set('qualifiedTrialsEnabled')}
            hint="A trial is forwarded to the ad networks only if still active after the delay"
          />
          <Field
            label="Delay (hours)"
            name={`${prefix}delayHours`}
            type="number"
            min={0}
            max={168}
            step="any"
            value={f.delayHours}
            onInput={set('delayHours')}
            hint="0–168; fractions allowed, e.g. 0.5"
          />
        </div>
      </fieldset>
    </>
  );
}
