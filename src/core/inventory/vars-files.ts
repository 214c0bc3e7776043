/**
 * The contents of `group_vars/` and `host_vars/` files, as Ansible's `host_group_vars` plugin
 * reads them (the I/O adapter finds and reads the files; this module only parses the text).
 *
 * Invariants:
 * - Each file is YAML or JSON; an empty file (or an empty/false document) adds nothing; any other
 *   non-mapping document is an error, as it is for Ansible ("failed to combine variables").
 * - Files are applied in the order given (the adapter lists them as Ansible does: sorted,
 *   recursively for folders); later files replace earlier values.
 * - A key written twice in one mapping is an error naming both places (Ansible keeps the last), and
 *   aliases may stand for only so many values (`refuseAliasBombs`).
 * - Vault-encrypted files are refused with a clear error: Overhaul holds no vault password.
 * - Pure: no I/O.
 */
import { isMap, isScalar, isSeq } from "yaml";
import { InputError } from "../errors.js";
import type { Origin, Vars } from "./data.js";
import { setOwn } from "./pytext.js";
import { refuseAliasBombs } from "./yaml-aliases.js";
import { deref, keyString, loadYaml, originOf, pairsOf, refuseDuplicateKeys, toValue } from "./yaml-load.js";

/** One vars file as read from disk: its path (as shown to the user) and its text. */
export interface VarsFile {
  readonly file: string;
  readonly text: string;
}

/** Vars files per group name and per host name, each list in the order Ansible applies them. */
export interface VarsFiles {
  readonly groupVars?: ReadonlyMap<string, readonly VarsFile[]>;
  readonly hostVars?: ReadonlyMap<string, readonly VarsFile[]>;
}

/** Variables with the place each one was set. */
export interface VarBag {
  readonly vars: Vars;
  readonly origins: Map<string, Origin>;
}

/** Parse one vars file into `into` (a new bag by default): later keys replace earlier ones. */
export function parseVarsFile(vf: VarsFile, into: VarBag = { vars: {}, origins: new Map() }): VarBag {
  if (/^\s*\$ANSIBLE_VAULT;/.test(vf.text)) {
    throw new InputError({
      file: vf.file,
      line: 1,
      message: "the file is encrypted with ansible-vault, which Overhaul cannot decrypt",
      expected: "a plain YAML vars file (keep secrets out of the inventory)",
    });
  }
  const src = loadYaml(vf.text, vf.file);
  refuseAliasBombs(src);
  refuseDuplicateKeys(src);
  const root = deref(src, src.root);
  if (root === null) return into;
  if (isMap(root)) {
    for (const p of pairsOf(src, root)) {
      const key = keyString(src, p.key, p.keyNode);
      setOwn(into.vars, key, toValue(src, p.valueNode));
      into.origins.set(key, originOf(src, p.keyNode));
    }
    return into;
  }
  const empty = isSeq(root) ? root.items.length === 0 : isScalar(root) && !root.value;
  if (empty) return into;
  throw new InputError({
    ...originOf(src, root),
    message: "a vars file must be a mapping of variable names to values",
    expected: "name: value lines",
  });
}

/** All files of one group or host, combined in order. */
export function parseVarsFiles(files: readonly VarsFile[] | undefined): VarBag {
  const bag: VarBag = { vars: {}, origins: new Map() };
  for (const f of files ?? []) parseVarsFile(f, bag);
  return bag;
}
