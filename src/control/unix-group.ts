// Group names to gids for control_socket_group. Node has no getgrnam, so ask getent(1), which
// goes through NSS like every other tool (files, LDAP, systemd-userdb): a group `ls -l` shows
// is a group iiptran finds.

import { execFileSync } from 'node:child_process';

/** The gid of a group name, or of a numeric gid as given; a string saying why not otherwise. */
export function resolveGroup(spec: string | number): number | string {
  if (typeof spec === 'number') return spec;
  let out: string;
  try {
    out = execFileSync('getent', ['group', spec], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { status?: number | null };
    if (err.status === 2) return `no group named "${spec}" on this system (getent group ${spec} finds none); create it (groupadd ${spec}) or give a numeric gid`;
    return `cannot look up group "${spec}" (getent: ${err.code ?? err.status ?? err.message}); give a numeric gid instead`;
  }
  // name:password:gid:members
  const gid = Number(out.split('\n')[0]?.split(':')[2]);
  return Number.isInteger(gid) && gid >= 0 ? gid : `getent group ${spec} printed no gid`;
}
