/**
 * The inventory-files adapter: Ansible inventories (INI, YAML, directories, group_vars/host_vars)
 * read from disk. Parsing and precedence live in the pure `core/inventory`; this adapter only
 * finds and reads files.
 */
export { isIgnoredInDirectory, loadInventory } from "./load.js";
export { decodeText } from "./read-text.js";
export { findVarsFiles } from "./vars-dirs.js";
