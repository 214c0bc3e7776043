/**
 * Checking, before a run starts, that every SSH host's connection settings can be read: the
 * OpenSSH options in `ansible_ssh_common_args` / `ansible_ssh_extra_args`, ProxyJump values, the
 * connect timeout, and the ssh config file. A run must not discover at host 400 that host 1's
 * settings never made sense.
 *
 * Invariants:
 * - Connects to nothing; reads only the ssh config file.
 * - Returns one problem per host (the first found), naming the host; an unreadable ssh config is
 *   one problem for all.
 */
import type { Host } from "../../core/model/fleet.js";
import { resolveOptions, type SshTransportOptions } from "./options.js";
import { loadSshConfig, SshConfigError, type SshConfigLookup } from "./ssh-config.js";
import { resolveTarget, TargetError } from "./target.js";

export interface SshHostProblem {
  /** The inventory host, or undefined for a problem with the ssh config itself. */
  host?: string;
  message: string;
}

export async function checkSshHosts(
  hosts: readonly Host[],
  options: SshTransportOptions = {},
): Promise<SshHostProblem[]> {
  const opts = resolveOptions(options);
  let config: SshConfigLookup;
  try {
    config = await loadSshConfig(opts.sshConfigFile, { homeDir: opts.homeDir, localUser: opts.defaultUser });
  } catch (e) {
    if (e instanceof SshConfigError) return [{ message: e.message }];
    throw e;
  }
  const problems: SshHostProblem[] = [];
  for (const h of hosts) {
    if (h.connection !== "ssh") continue;
    try {
      resolveTarget(h, opts, config);
    } catch (e) {
      if (e instanceof TargetError || e instanceof SshConfigError)
        problems.push({ host: h.name, message: e.message });
      else throw e;
    }
  }
  return problems;
}
