"""Confining one untrusted program: namespaces, mounts, credentials and resource limits.

Runs inside the sandbox's forked processes only (``analysis.code.zygote``); nothing here is
called by the parent. Two steps, in two processes, because a new PID namespace takes effect for
the *children* of the process that creates it:

1. ``enter_namespaces`` (the keeper, a child of the zygote): new mount, network and PID
   namespaces (plus a user namespace when not root), then the file-system view: everything
   read-only, empty tmpfs over the user's data (``/root``, ``/home``, ``/work``, ``/run``,
   ``/mnt``, ``/srv``, ``/opt``) with only the Python installation and the virtual environment
   bound back read-only, and fresh small tmpfs over the world-writable folders (``/tmp``,
   ``/var/tmp``, ``/dev/shm``). Whatever the program writes lives in those tmpfs and disappears
   with the namespace.
2. ``confine_program`` (PID 1 of the new namespace): a private ``/proc``, an unprivileged uid
   (so ``RLIMIT_NPROC`` applies and no root-owned file is writable), rlimits, a fresh work
   folder, closed stdin, output to ``/dev/null``, no inherited descriptors but the result pipe,
   a scrubbed environment, and death when the keeper dies.

When the PID-1 process exits, the kernel kills every process left in its namespace, so a
program leaves nothing behind whatever it forks, however it detaches (``setsid``, double fork).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
_CAP_VERSION_3 = 0x20080522

HIDDEN = ("/root", "/home", "/work", "/run", "/mnt", "/srv", "/opt", "/media")
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
STAGE = "/dev/shm"
WORKDIR = "/tmp/work"

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


class JailError(OSError):
    """A namespace, mount or credential step failed."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one program run.

    ``wall_s``: the keeper kills the whole namespace after this many seconds (the per-test
    limits inside the harness are usually shorter). ``cpu_s``: RLIMIT_CPU. ``memory_mb``:
    RLIMIT_AS (address space). ``fsize_mb``: RLIMIT_FSIZE and the size of the work tmpfs.
    ``nproc``: RLIMIT_NPROC for the sandbox's own uid. ``nofile``: RLIMIT_NOFILE.
    ``output_mb``: the most the parent reads back from the program's result stream.
    """

    wall_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int = 4096
    fsize_mb: int = 16
    nproc: int = 16
    nofile: int = 64
    output_mb: int = 64


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise JailError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    ret = _libc.mount(
        None if source is None else source.encode(),
        target.encode(),
        None if fstype is None else fstype.encode(),
        ctypes.c_ulong(flags),
        None if data is None else data.encode(),
    )
    _check(ret, f"mount {source} -> {target} ({fstype}, {flags:#x})")


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as f:
        f.write(text)


def kept_paths() -> list[str]:
    """Folders a Python program needs to read: the interpreter's installation and the venv."""
    keep = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    for p in sys.path:
        if p and Path(p).is_dir():
            real = os.path.realpath(p)
            if not any(real == k or real.startswith(k + os.sep) for k in keep):
                keep.add(real)
    # a kept folder inside another kept folder is bound with it
    ordered = sorted(keep, key=len)
    return [p for i, p in enumerate(ordered) if not any(p.startswith(q + os.sep) for q in ordered[:i])]


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r + os.sep) for r in roots)


_OPTION_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": 1024, "nodiratime": 2048}


def _mount_points() -> list[tuple[str, int]]:
    """(mount point, its current per-mount flags) from ``/proc/self/mountinfo``. A remount must
    keep these flags: inside a user namespace, dropping one is refused."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            flags = 0
            for opt in fields[5].split(","):
                flags |= _OPTION_FLAGS.get(opt, 0)
            points.append((point, flags))
    return points


def enter_namespaces(*, user_ns: bool, net_ns: bool, fsize_mb: int) -> None:
    """Step 1 (the keeper): unshare, then build the program's file-system view."""
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | CLONE_NEWPID | (CLONE_NEWNET if net_ns else 0) | (CLONE_NEWUSER if user_ns else 0)
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")
    if user_ns:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep = [p for p in kept_paths() if _under(p, HIDDEN)]
    # stage the folders to keep on a fresh tmpfs, cover the hidden trees, move them back
    _mount("stage", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    staged = []
    for i, path in enumerate(keep):
        where = f"{STAGE}/k{i}"
        Path(where).mkdir()
        _mount(path, where, None, MS_BIND | MS_REC)
        staged.append(where)
    for point in HIDDEN:
        if Path(point).is_dir() and not Path(point).is_symlink():
            _mount("hidden", point, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for path, where in zip(keep, staged, strict=True):
        Path(path).mkdir(parents=True, exist_ok=True)
        _mount(where, path, None, MS_MOVE)
    # everything read-only; the scratch folders then get their own small writable tmpfs
    skip = ("/proc", "/sys", "/dev")
    for point, flags in _mount_points():
        if _under(point, skip) and point != "/dev":
            continue
        try:
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        except JailError:
            if point == "/":
                raise
    for point in SCRATCH:
        if Path(point).is_dir():
            size = fsize_mb + 1 if point == "/tmp" else 1
            _mount("scratch", point, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size}m,mode=1777")


def confine_program(*, sandbox_uid: int | None, limits: Limits, keep_fd: int, pdeathsig_parent: int) -> None:
    """Step 2 (PID 1 of the new namespace, still privileged in it): drop everything."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    Path(WORKDIR).mkdir(mode=0o700, parents=True, exist_ok=True)
    if sandbox_uid is not None:
        os.chown(WORKDIR, sandbox_uid, sandbox_uid)
        os.setgroups([])
        os.setgid(sandbox_uid)
        os.setuid(sandbox_uid)
    deathsig(pdeathsig_parent)
    apply_rlimits(limits)
    os.chdir(WORKDIR)
    drop_capabilities()


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32))


def drop_capabilities() -> None:
    """No capabilities left, none to regain: in a user namespace the program is that namespace's
    root, and with its capabilities it could remount the read-only file system read-write."""
    for cap in range(64):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the last capability: ignored
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def deathsig(parent: int) -> None:
    """Be killed when ``parent`` dies (set after any credential change, which clears it)."""
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the flag was set
        os._exit(137)


def apply_rlimits(limits: Limits) -> None:
    mb = 1 << 20
    for res, value in (
        (resource.RLIMIT_CPU, limits.cpu_s),
        (resource.RLIMIT_AS, limits.memory_mb * mb),
        (resource.RLIMIT_FSIZE, limits.fsize_mb * mb),
        (resource.RLIMIT_NPROC, limits.nproc),
        (resource.RLIMIT_NOFILE, limits.nofile),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(res, (value, value))


def isolate_streams(keep_fd: int) -> None:
    """stdin, stdout and stderr to ``/dev/null``; every other descriptor but ``keep_fd`` closed."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, keep_fd)
    os.closerange(keep_fd + 1, 65536)


def scrub_environment() -> None:
    os.environ.clear()
    os.environ.update({"PATH": "/usr/bin:/bin", "HOME": WORKDIR, "TMPDIR": WORKDIR, "LANG": "C.UTF-8"})
