/**
 * ssh from the global zone with a password, and nothing else: OpenSSH's own askpass
 * hook (SSH_ASKPASS_REQUIRE=force, OpenSSH >= 8.4) hands it the password, so neither a
 * pty nor sshpass is needed. The host's and the user's ssh configuration, keys, agent
 * and known hosts are all left out, so only the password can log in.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface SshResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run `command` as `user` at `host` over ssh, authenticating with `password` only. */
export function sshWithPassword(host: string, user: string, password: string, command: string): SshResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zones-ssh-"));
  try {
    const askpass = path.join(dir, "askpass");
    // The password reaches the script by the environment, never by its text or argv.
    fs.writeFileSync(askpass, '#!/bin/sh\nprintf "%s\\n" "$ZONES_TEST_SSH_PASSWORD"\n', { mode: 0o700 });
    const opts = [
      "-F", "/dev/null",
      "-o", "BatchMode=no",
      "-o", "StrictHostKeyChecking=no",
      "-o", `UserKnownHostsFile=${path.join(dir, "known_hosts")}`,
      "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", "PreferredAuthentications=password",
      "-o", "PubkeyAuthentication=no",
      "-o", "IdentityAgent=none",
      "-o", "NumberOfPasswordPrompts=1",
      "-o", "ConnectTimeout=5",
      "-o", "LogLevel=ERROR",
    ];
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force", ZONES_TEST_SSH_PASSWORD: password };
    const r = spawnSync("ssh", [...opts, "-l", user, host, command], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 });
    if (r.error) throw r.error;
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
