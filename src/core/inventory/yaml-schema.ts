/**
 * The YAML scalar rules of Ansible's loader (PyYAML's YAML 1.1 `SafeLoader` resolvers and
 * constructors, plus Ansible's `!unsafe` and `!vault` tags), as tags for the `yaml` package.
 *
 * Invariants:
 * - A plain scalar gets exactly the type PyYAML gives it: `yes/no/on/off` are booleans but `y/n`
 *   are strings; `0777` is octal 511 and `0o17` a string; `1e3` is a string (a float needs a dot);
 *   `1:20` is 80 (base 60); `~`, `null` and the empty value are null; dates become the text
 *   Ansible's JSON encoder writes (`2001-12-14`, `2001-12-14T21:59:43.100000-05:00`).
 * - `!unsafe x` and `!vault ...` become the objects `ansible-inventory --list` prints
 *   (`{"__ansible_unsafe": ...}`, `{"__ansible_vault": ...}`); vaults are never decrypted.
 * - Pure: no I/O.
 */
import type { ScalarTag } from "yaml";

export const BOOL_RE = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
export const FLOAT_RE =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
export const INT_RE =
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const NULL_RE = /^(?:~|null|Null|NULL|)$/;
const TIMESTAMP_RE =
  /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/;
const TIMESTAMP_PARTS =
  /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)?$/;

type OnError = (message: string) => void;

function sexagesimal(text: string, part: (s: string) => number): number {
  let value = 0;
  for (const p of text.split(":")) value = value * 60 + part(p);
  return value;
}

function constructInt(raw: string, onError: OnError): number {
  let v = raw.replace(/_/g, "");
  const sign = v[0] === "-" ? -1 : 1;
  if (v[0] === "+" || v[0] === "-") v = v.slice(1);
  let n: number;
  if (v === "0") n = 0;
  else if (v.startsWith("0b")) n = Number.parseInt(v.slice(2), 2);
  else if (v.startsWith("0x")) n = Number.parseInt(v.slice(2), 16);
  else if (v[0] === "0") n = /^[0-7]+$/.test(v) ? Number.parseInt(v, 8) : Number.NaN;
  else if (v.includes(":")) n = sexagesimal(v, (p) => (/^[0-9]+$/.test(p) ? Number(p) : Number.NaN));
  else n = /^[0-9]+$/.test(v) ? Number(v) : Number.NaN;
  if (Number.isNaN(n)) onError(`"${raw}" is not an integer`);
  return sign * n;
}

function constructFloat(raw: string, onError: OnError): number {
  let v = raw.replace(/_/g, "").toLowerCase();
  const sign = v[0] === "-" ? -1 : 1;
  if (v[0] === "+" || v[0] === "-") v = v.slice(1);
  if (v === ".inf") return sign * Number.POSITIVE_INFINITY;
  if (v === ".nan") return Number.NaN;
  const n = v.includes(":") ? sexagesimal(v, Number) : Number(v);
  if (Number.isNaN(n) || v === "") onError(`"${raw}" is not a float`);
  return sign * n;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/** Python's `isoformat()` of the date or datetime PyYAML builds from a timestamp. */
function constructTimestamp(raw: string, onError: OnError): string {
  const m = TIMESTAMP_PARTS.exec(raw);
  if (!m) {
    onError(`"${raw}" is not a timestamp`);
    return raw;
  }
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || month > 12 || probe.getUTCDate() !== day || year < 1) {
    onError(`"${raw}" is not a valid date`);
  }
  const date = `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
  if (m[4] === undefined) return date;
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6])];
  if (hour > 23 || minute > 59 || second > 59) onError(`"${raw}" is not a valid time`);
  let out = `${date}T${pad(hour)}:${pad(minute)}:${pad(second)}`;
  const fraction = m[7] ? Number(m[7].slice(0, 6).padEnd(6, "0")) : 0;
  if (fraction) out += `.${pad(fraction, 6)}`;
  if (m[9]) {
    const h = Number(m[10]);
    const mm = Number(m[11] ?? "0");
    const total = h * 60 + mm;
    if (total >= 24 * 60) onError(`"${raw}" has an invalid time zone`);
    const sign = m[9] === "-" && total > 0 ? "-" : "+";
    out += `${sign}${pad(Math.floor(total / 60))}:${pad(total % 60)}`;
  } else if (m[8] === "Z") {
    out += "+00:00";
  }
  return out;
}

const Y = "tag:yaml.org,2002:";

/** A plain `<<` (a merge key) and a plain `=` (PyYAML's "value" key): only valid as mapping keys. */
export const MERGE_KEY: unique symbol = Symbol("<<");
export const VALUE_KEY: unique symbol = Symbol("=");

/** The implicit and explicit scalar tags Ansible's YAML loader knows. */
export const PYYAML_TAGS: ScalarTag[] = [
  { tag: `${Y}null`, default: true, test: NULL_RE, resolve: () => null },
  { tag: `${Y}bool`, default: true, test: BOOL_RE, resolve: (s) => /^(?:yes|true|on)$/i.test(s) },
  { tag: `${Y}float`, default: true, test: FLOAT_RE, resolve: (s, onError) => constructFloat(s, onError) },
  { tag: `${Y}int`, default: true, test: INT_RE, resolve: (s, onError) => constructInt(s, onError) },
  {
    tag: `${Y}timestamp`,
    default: true,
    test: TIMESTAMP_RE,
    resolve: (s, onError) => constructTimestamp(s, onError),
  },
  { tag: `${Y}merge`, default: true, test: /^<<$/, resolve: () => MERGE_KEY },
  { tag: `${Y}value`, default: true, test: /^=$/, resolve: () => VALUE_KEY },
  { tag: "!unsafe", resolve: (s) => ({ __ansible_unsafe: s }) },
  { tag: "!vault", resolve: (s) => ({ __ansible_vault: s }) },
  { tag: "!vault-encrypted", resolve: (s) => ({ __ansible_vault: s }) },
];
