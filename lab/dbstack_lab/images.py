"""images: the debootstrap base image and the systemd image of each Debian release, rebuilt only when their recipe changed."""

from __future__ import annotations

import concurrent.futures
import fcntl
import hashlib
import re
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .common import (
    IMAGE_BASE, IMAGE_PACKAGES, IMAGE_SYSTEMD, LAB_USER, LABEL, LabError, MASKED_UNITS, MIRROR, NPROC_LIMIT, RELEASES,
    SECURITY_MIRROR, mirror_hint, say, tail,
)
from .host import require_host_ready


def image_exists(ref: str) -> bool:
    return subprocess.run(["podman", "image", "exists", ref], check=False).returncode == 0


def image_recipe(ref: str) -> str | None:
    """The recipe hash an image was built from, None when the image is absent."""
    proc = subprocess.run(["podman", "image", "inspect", "--format",
                           "{{index .Config.Labels \"%s.recipe\"}}" % LABEL, ref],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def recipe_hash(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def ulimit_args() -> list[str]:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = hard if hard != resource.RLIM_INFINITY else 1048576
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={NPROC_LIMIT}:{NPROC_LIMIT}"]


def mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    found = []
    for line in Path("/proc/mounts").read_text().splitlines():
        mnt = line.split()[1].replace("\\040", " ")
        if mnt == prefix or mnt.startswith(prefix + "/"):
            found.append(mnt)
    return sorted(found, key=len, reverse=True)


def remove_rootfs(path: Path) -> None:
    # debootstrap mounts proc/sys inside the target and can leave them behind when it fails;
    # deleting through a live /proc or /sys mount would be a disaster.
    for mnt in mounts_under(path):
        subprocess.run(["umount", "-l", mnt], capture_output=True, check=False)
    left = mounts_under(path)
    if left:
        raise LabError(f"{path} still has mounts ({', '.join(left)}); unmount them and delete it by hand.")
    shutil.rmtree(path, ignore_errors=True)


def sources_deb822(release: str) -> str:
    return (f"Types: deb\nURIs: {MIRROR}\nSuites: {release} {release}-updates\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
            f"Types: deb\nURIs: {SECURITY_MIRROR}\nSuites: {release}-security\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")


def base_recipe(release: str) -> str:
    return recipe_hash("base-1", release, MIRROR, sources_deb822(release))


def build_base(release: str) -> None:
    ref = f"{IMAGE_BASE}:{release}"
    work = Path(tempfile.mkdtemp(prefix=f"dbstack-lab-{release}-", dir="/var/tmp"))
    rootfs = work / "rootfs"
    try:
        say(f"[{release}] debootstrap --variant=minbase from {MIRROR}")
        t0 = time.monotonic()
        proc = subprocess.run(["debootstrap", "--variant=minbase", release, str(rootfs), MIRROR],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            log = rootfs / "debootstrap" / "debootstrap.log"
            detail = tail(proc.stderr or proc.stdout, 4)
            if log.exists():
                detail += "\n    " + tail(log.read_text(errors="replace"), 4)
            network = re.search(r"Failed getting release file|Couldn't download|Could not resolve|"
                                r"Temporary failure|Connection (refused|timed out)|unable to fetch",
                                (proc.stderr or "") + (proc.stdout or ""), re.I)
            raise LabError(f"[{release}] debootstrap failed:\n    {detail}\n  "
                           + (mirror_hint() if network else "See the log lines above."))
        say(f"[{release}] debootstrap done in {time.monotonic() - t0:.0f} s")
        (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
        (rootfs / "etc/apt/sources.list.d").mkdir(parents=True, exist_ok=True)
        (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(sources_deb822(release))
        for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        for mnt in mounts_under(rootfs):
            subprocess.run(["umount", "-l", mnt], capture_output=True, check=False)
        tar = subprocess.Popen(["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-c", "."],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        imp = subprocess.run(["podman", "import",
                              "--change", f"LABEL {LABEL}.recipe={base_recipe(release)}",
                              "--change", 'CMD ["/bin/bash"]',
                              "--message", f"debootstrap --variant=minbase {release}", "-", ref],
                             stdin=tar.stdout, capture_output=True, text=True, check=False)
        tar.stdout.close()
        tar_err = tar.stderr.read().decode(errors="replace")
        if tar.wait() != 0 or imp.returncode != 0:
            raise LabError(f"[{release}] podman import of the debootstrap tree failed:\n    "
                           f"{tail(tar_err + imp.stderr, 4)}")
        say(f"[{release}] imported {ref}")
    finally:
        remove_rootfs(work)


def containerfile(release: str, with_ca: bool) -> str:
    ca_copy = "COPY ca/ /usr/local/share/ca-certificates/\n" if with_ca else ""
    masks = " ".join(MASKED_UNITS)
    return f"""\
FROM {IMAGE_BASE}:{release}
ENV container=podman
{ca_copy}RUN apt-get update -q \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {' '.join(IMAGE_PACKAGES)} \\
 && update-ca-certificates \\
 && apt-get clean \\
 && rm -f /var/cache/apt/*.bin
# An empty machine-id makes systemd generate a distinct one in every container.
RUN systemctl mask {masks} >/dev/null 2>&1 \\
 && systemctl set-default multi-user.target \\
 && : > /etc/machine-id \\
 && rm -f /var/lib/dbus/machine-id
# Ansible logs in as {LAB_USER}, an unprivileged account with passwordless sudo, by key only (labctl
# authorizes the lab's key on each new host). Every host makes its own host keys at first boot,
# before sshd's own check runs; the ones the package made in the image would be shared by all.
RUN useradd --create-home --shell /bin/bash --comment "lab deploy account" {LAB_USER} \\
 && install -d -m 700 -o {LAB_USER} -g {LAB_USER} /home/{LAB_USER}/.ssh \\
 && printf '%s\\n' '{LAB_USER} ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/{LAB_USER} \\
 && chmod 0440 /etc/sudoers.d/{LAB_USER} \\
 && printf '%s\\n' 'PasswordAuthentication no' 'KbdInteractiveAuthentication no' 'PermitRootLogin no' \\
      > /etc/ssh/sshd_config.d/dbstack-lab.conf \\
 && mkdir -p /etc/systemd/system/ssh.service.d \\
 && printf '%s\\n' '[Service]' 'ExecStartPre=' 'ExecStartPre=/usr/bin/ssh-keygen -A' 'ExecStartPre=/usr/sbin/sshd -t' \\
      > /etc/systemd/system/ssh.service.d/dbstack-lab-host-keys.conf \\
 && rm -f /etc/ssh/ssh_host_* \\
 && systemctl enable ssh.service >/dev/null 2>&1
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
"""


def host_ca_files() -> list[Path]:
    # HTTPS may leave this machine through a TLS-inspecting proxy whose CA sits here;
    # pip and curl inside the hosts need to trust it too.
    return sorted(Path("/usr/local/share/ca-certificates").rglob("*.crt"))


def systemd_recipe(release: str) -> str:
    """Changes whenever the base image, this recipe or the host's extra CAs change."""
    base_id = subprocess.run(["podman", "image", "inspect", "--format", "{{.Id}}", f"{IMAGE_BASE}:{release}"],
                             capture_output=True, text=True, check=False).stdout.strip()
    cas = host_ca_files()
    return recipe_hash("systemd-2", base_id, containerfile(release, bool(cas)),
                       *[c.read_bytes() for c in cas])


def build_systemd(release: str) -> None:
    ref = f"{IMAGE_SYSTEMD}:{release}"
    ctx = Path(tempfile.mkdtemp(prefix=f"dbstack-lab-build-{release}-", dir="/var/tmp"))
    try:
        cas = host_ca_files()
        for ca in cas:
            dest = ctx / "ca" / ca.relative_to("/usr/local/share/ca-certificates")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ca, dest)
        (ctx / "Containerfile").write_text(containerfile(release, bool(cas))
                                           + f'LABEL {LABEL}.recipe="{systemd_recipe(release)}"\n')
        say(f"[{release}] building {ref} (systemd layer" + (f", {len(cas)} extra CA file(s))" if cas else ")"))
        t0 = time.monotonic()
        proc = subprocess.run(["podman", "build", "--pull=never", "--layers=false", *ulimit_args(),
                               "-t", ref, "-f", str(ctx / "Containerfile"), str(ctx)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            out = proc.stdout + proc.stderr
            network = re.search(r"Failed to fetch|Could not resolve|Temporary failure|Unable to connect|"
                                r"Unable to locate package|Connection (refused|timed out)", out, re.I)
            raise LabError(f"[{release}] podman build of {ref} failed:\n    {tail(out, 6)}\n  "
                           + (mirror_hint() if network else "See the build output above."))
        say(f"[{release}] built {ref} in {time.monotonic() - t0:.0f} s")
    finally:
        shutil.rmtree(ctx, ignore_errors=True)


def image_id(ref: str) -> str | None:
    proc = subprocess.run(["podman", "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def drop_replaced(old_id: str | None, ref: str) -> None:
    """A rebuilt tag leaves the old image behind (~300 MB); remove it unless a container still uses it."""
    if old_id and old_id != image_id(ref):
        subprocess.run(["podman", "rmi", old_id], capture_output=True, check=False)


def ensure_images(release: str, rebuild: bool = False) -> None:
    # Scenarios may run `up` side by side; one builder per release, the others wait and reuse.
    with open(f"/run/dbstack-lab-images-{release}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _ensure_images(release, rebuild)


def _ensure_images(release: str, rebuild: bool) -> None:
    """Build what is missing or was built from another recipe; --rebuild forces both layers."""
    base_ref, sysd_ref = f"{IMAGE_BASE}:{release}", f"{IMAGE_SYSTEMD}:{release}"
    old_base, old_sysd = image_id(base_ref), image_id(sysd_ref)
    have = image_recipe(base_ref)
    if rebuild or have != base_recipe(release):
        if have is not None and not rebuild:
            say(f"[{release}] {base_ref} was built from another recipe (mirror or sources changed): rebuilding")
        build_base(release)
    else:
        say(f"[{release}] {base_ref} present (use --rebuild to refresh)")
    have = image_recipe(sysd_ref)
    if rebuild or have != systemd_recipe(release):
        if have is not None and not rebuild:
            say(f"[{release}] {sysd_ref} is older than its recipe (base, packages or CA files changed): rebuilding")
        build_systemd(release)
        drop_replaced(old_sysd, sysd_ref)
    else:
        say(f"[{release}] {sysd_ref} present")
    drop_replaced(old_base, base_ref)


def cmd_images(args) -> None:
    require_host_ready()
    releases = RELEASES if args.release == "all" else (args.release,)
    t0 = time.monotonic()
    if len(releases) == 1:
        ensure_images(releases[0], args.rebuild)
    else:
        # debootstrap is mostly waiting on the mirror: two releases in parallel halve the wall time.
        with concurrent.futures.ThreadPoolExecutor(len(releases)) as pool:
            futures = [pool.submit(ensure_images, r, args.rebuild) for r in releases]
            errors = [f.exception() for f in futures if f.exception()]
        if errors:
            raise errors[0]
    say(f"images ready in {time.monotonic() - t0:.0f} s: "
        + ", ".join(f"{IMAGE_SYSTEMD}:{r}" for r in releases))
