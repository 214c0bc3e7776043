/**
 * Ansible inventories, read exactly the way `ansible-inventory` reads them (docs/inventory.md).
 *
 * Invariants:
 * - Pure: parsing takes text that the I/O adapter (`adapters/inventory-files`) has read.
 * - Pipeline: parse one or more sources into an `InventoryData` (`parseIniInventory`,
 *   `parseYamlInventory`, or `parseInventorySource` to pick the format like Ansible), then
 *   `resolveInventory(data, varsFiles)` for the frozen `Inventory`, then read it with
 *   `matchPattern`, `toAnsibleListJson` or `toFleetHosts`.
 * - Every problem in the input is an `InputError` with file, line and column where known.
 */
export { InventoryData, type Origin, type Vars } from "./data.js";
export { FAILURE_DOMAIN_VARS, toFleetHosts } from "./fleet-hosts.js";
export { parseIniInventory } from "./ini.js";
export { type AnsibleListJson, toAnsibleListJson } from "./list-json.js";
export { hostsOfGroup, matchPattern, type PatternMatch, splitHostPattern } from "./patterns.js";
export { parseIniValue } from "./py-literal.js";
export { pyStrip } from "./pytext.js";
export { expandHostnameRange, expandHostPattern } from "./ranges.js";
export {
  INTERNAL_VARS,
  type Inventory,
  type InventoryGroup,
  type InventoryHost,
  resolveInventory,
} from "./resolve.js";
export { extensionOf, formatsFor, type InventoryFormat, parseInventorySource } from "./source.js";
export { parseVarsFile, type VarsFile, type VarsFiles } from "./vars-files.js";
export { parseYamlInventory } from "./yaml-inventory.js";
