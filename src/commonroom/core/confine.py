"""Shutting a confined child in before it reads an untrusted file (Linux; run in the child, no
Django). Used by every confined child (``core/sandbox.py``): previews' converters, the version
stamp of a download.

Work on a file that came from anywhere can do only what the child may do, so the child gives
away, for good and before it opens the file:

- **files** (Landlock): it may read Python and its libraries (``sys.path``, ``/usr``, ``/lib``),
  the one file it works on and its own folder, and write only in its output folder and its own
  temporary folder. The data directory, other uploads, ``/proc`` (other processes' memory and
  environment), ``/etc`` and home folders are out of reach; no program can be executed.
- **network** (seccomp, and Landlock from ABI 4): ``socket()`` fails, so no TCP, UDP or Unix
  socket (a database's local socket included) can be opened; ``io_uring`` is refused too.
- **signals and abstract sockets** (Landlock from ABI 6): it cannot signal or reach processes
  outside its own sandbox (the server, the worker).
- **privileges**: ``no_new_privs``; run as root, it drops every capability first (a root child
  could otherwise load a kernel module or lift limits).

Each layer is applied when the kernel offers it; :func:`confine` returns the names of those
applied, which the child reports with its answer and the parent logs when one is missing (see
``sandbox.py`` and the ``COMMONROOM_PREVIEW_CONFINE`` setting, which governs every confined
child). The kernel interfaces are small and stable, so they are called through ctypes here
rather than through a native dependency; see ``docs/decisions/0004-preview-confinement.md``.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from pathlib import Path

# Every layer a complete confinement has, in the order they are applied.
LAYERS = (
    "no-new-privs",
    "capabilities",
    "landlock-files",
    "landlock-network",
    "landlock-scope",
    "seccomp-network",
)

PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

# Landlock: syscall numbers are the same on every architecture.
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_FILE = 1 << 5
FS_MAKE_SOCK = 1 << 9
FS_MAKE_SYM = 1 << 12  # the last of ABI 1's rights (bits 4-11: remove, make char/dir/...)
FS_ABI_1 = (FS_MAKE_SYM << 1) - 1  # every right from EXECUTE to MAKE_SYM
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ = FS_READ_FILE | FS_READ_DIR

# Read-only, where they exist: what Python, its extension modules and their libraries load.
SYSTEM_READ = (
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/mime.types",
    "/etc/fonts",
)
SYSTEM_READ_WRITE = ("/dev/null",)
SYSTEM_READ_ONLY_FILES = ("/dev/urandom", "/dev/zero")

# seccomp: (AUDIT_ARCH, socket, io_uring_setup, connect) by machine.
ARCHES = {
    "x86_64": (0xC000003E, 41, 425, 42),
    "aarch64": (0xC00000B7, 198, 425, 203),
}
AF_UNIX = 1
SOCK_STREAM = 1
SOCK_TYPE_MASK = 0xF
X32_SYSCALL_BIT = 0x40000000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter)))


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def python_folders() -> list[Path]:
    """The folders Python and its libraries are loaded from: the standard library's and the
    installed packages' (``sysconfig``), the prefixes, and the folder holding this package. Not
    ``sys.path`` as a whole: it can hold the current folder or a project's root."""
    paths = sysconfig.get_paths()
    found = [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths]
    package_root = Path(__file__).resolve().parents[2]  # .../src or .../site-packages
    return sorted(
        {Path(p).resolve() for p in [*found, sys.prefix, sys.base_prefix]} | {package_root}
    )


def readable_folders() -> list[Path]:
    """Every folder beneath which the child may read: the system's and Python's."""
    return sorted({Path(p) for p in SYSTEM_READ} | set(python_folders()))


def landlock_abi() -> int:
    """The Landlock ABI version the kernel offers (0 when it has none or it is switched off)."""
    if not sys.platform.startswith("linux"):
        return 0
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    version = int(
        libc.syscall(
            ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET),
            None,
            ctypes.c_size_t(0),
            ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION),
        )
    )
    return max(version, 0)


def confine(
    read: Iterable[Path],
    write: Iterable[Path],
    *,
    read_files: Iterable[Path] = (),
    execute: Iterable[Path] = (),
    local_sockets: Iterable[Path] = (),
) -> list[str]:
    """Apply every layer the kernel offers to this process, for good: ``read`` are folders the
    child may read beneath (besides the system's), ``read_files`` single files it may read and
    ``write`` folders it may read and write beneath. Returns the layers applied. Must run in a
    process with one thread (Python's main thread, before any library starts another).

    For a program that cannot work otherwise (LibreOffice: ``certificates/render.py``):
    ``execute`` are folders beneath which it may also run programs, and ``local_sockets``
    folders beneath which it may make (and remove) a Unix socket. With ``local_sockets`` the
    seccomp layer is ``seccomp-local-socket`` instead of ``seccomp-network``: ``socket()`` is
    refused for anything but a Unix stream socket, and ``connect()`` for everything, so the
    child can listen on its own socket but reach no other process's (a database's, the
    cache's) and no network."""
    execute, local_sockets = list(execute), list(local_sockets)
    if not sys.platform.startswith("linux") or _threads() != 1:
        return []  # Landlock, seccomp and capabilities would hold back only the calling thread
    applied: list[str] = []
    libc = _libc()
    libc.prctl.restype = ctypes.c_int
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        applied.append("no-new-privs")
    if _drop_capabilities(libc):
        applied.append("capabilities")
    applied += _landlock(libc, list(read), list(write), list(read_files), execute, local_sockets)
    if local_sockets:
        if _seccomp_no_sockets(libc, local=True):
            applied.append("seccomp-local-socket")
    elif _seccomp_no_sockets(libc):
        applied.append("seccomp-network")
    return applied


def _threads() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def _drop_capabilities(libc: ctypes.CDLL) -> bool:
    """Empty the effective, permitted and inheritable sets, and as root the bounding set too (a
    no-op for a user that holds none, the usual case; it matters when the server runs as
    root)."""
    if os.geteuid() == 0:
        last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
        for cap in range(last + 1):
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                return False
    header = struct.pack("Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = bytes(24)  # two empty {effective, permitted, inheritable}
    libc.capset.restype = ctypes.c_int
    return int(libc.capset(ctypes.c_char_p(header), ctypes.c_char_p(data))) == 0


def _landlock(
    libc: ctypes.CDLL,
    read: list[Path],
    write: list[Path],
    read_files: list[Path],
    execute: Sequence[Path] = (),
    local_sockets: Sequence[Path] = (),
) -> list[str]:
    abi = landlock_abi()
    if abi < 1:
        return []
    fs = FS_ABI_1
    if abi >= 2:
        fs |= FS_REFER
    if abi >= 3:
        fs |= FS_TRUNCATE
    if abi >= 5:
        fs |= FS_IOCTL_DEV
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    if abi >= 6:
        attr = struct.pack("QQQ", fs, net, scoped)
    elif abi >= 4:
        attr = struct.pack("QQ", fs, net)
    else:
        attr = struct.pack("Q", fs)
    libc.syscall.restype = ctypes.c_long
    ruleset = _check(
        int(
            libc.syscall(
                ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET),
                ctypes.c_char_p(attr),
                ctypes.c_size_t(len(attr)),
                ctypes.c_uint32(0),
            )
        ),
        "landlock_create_ruleset",
    )
    try:
        everything_dir = fs & ~FS_EXECUTE
        read_dirs = [Path(p) for p in SYSTEM_READ] + read
        for path in read_dirs:
            _allow(libc, ruleset, path, READ)
        for path in read_files:
            _allow(libc, ruleset, path, FS_READ_FILE)
        for name in SYSTEM_READ_ONLY_FILES:
            _allow(libc, ruleset, Path(name), FS_READ_FILE)
        for name in SYSTEM_READ_WRITE:
            _allow(libc, ruleset, Path(name), FS_READ_FILE | FS_WRITE_FILE)
        for path in write:
            _allow(libc, ruleset, path, everything_dir)
        for path in execute:
            _allow(libc, ruleset, path, READ | FS_EXECUTE)
        for path in local_sockets:
            _allow(libc, ruleset, path, FS_MAKE_SOCK | FS_REMOVE_FILE)
        _check(
            int(
                libc.syscall(
                    ctypes.c_long(SYS_LANDLOCK_RESTRICT_SELF),
                    ctypes.c_int(ruleset),
                    ctypes.c_uint32(0),
                )
            ),
            "landlock_restrict_self",
        )
    finally:
        os.close(ruleset)
    applied = ["landlock-files"]
    if net:
        applied.append("landlock-network")
    if scoped:
        applied.append("landlock-scope")
    return applied


def _allow(libc: ctypes.CDLL, ruleset: int, path: Path, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # not on this machine: nothing to allow
    try:
        if not os.path.isdir(path):
            rights &= FILE_RIGHTS
        rule = _PathBeneath(allowed_access=rights, parent_fd=fd)
        _check(
            int(
                libc.syscall(
                    ctypes.c_long(SYS_LANDLOCK_ADD_RULE),
                    ctypes.c_int(ruleset),
                    ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                    ctypes.byref(rule),
                    ctypes.c_uint32(0),
                )
            ),
            f"landlock_add_rule {path}",
        )
    finally:
        os.close(fd)


def _seccomp_no_sockets(libc: ctypes.CDLL, *, local: bool = False) -> bool:
    """A seccomp filter under which ``socket()`` and ``io_uring_setup()`` fail with EACCES, and
    any system call of another architecture (x32, i386) fails too. ``local``: ``socket()`` of a
    Unix stream socket is allowed, and ``connect()`` fails instead."""
    arch = ARCHES.get(platform.machine())
    if arch is None:
        return False
    audit_arch, nr_socket, nr_io_uring, nr_connect = arch
    ld_w_abs, jeq_k, jge_k, ret_k, and_k = 0x20, 0x15, 0x35, 0x06, 0x54
    deny = SECCOMP_RET_ERRNO | errno.EACCES
    program = [
        (ld_w_abs, 0, 0, 4),  # seccomp_data.arch
        (jeq_k, 1, 0, audit_arch),
        (ret_k, 0, 0, deny),
        (ld_w_abs, 0, 0, 0),  # seccomp_data.nr
    ]
    if not local:
        program += [
            (jge_k, 3, 0, X32_SYSCALL_BIT),
            (jeq_k, 2, 0, nr_socket),
            (jeq_k, 1, 0, nr_io_uring),
            (ret_k, 0, 0, SECCOMP_RET_ALLOW),
            (ret_k, 0, 0, deny),
        ]
    else:
        program += [
            (jge_k, 10, 0, X32_SYSCALL_BIT),  # -> deny
            (jeq_k, 9, 0, nr_io_uring),
            (jeq_k, 8, 0, nr_connect),
            (jeq_k, 1, 0, nr_socket),
            (ret_k, 0, 0, SECCOMP_RET_ALLOW),
            (ld_w_abs, 0, 0, 16),  # seccomp_data.args[0], its low half: the family
            (jeq_k, 0, 4, AF_UNIX),
            (ld_w_abs, 0, 0, 24),  # args[1], the type (and its flags)
            (and_k, 0, 0, SOCK_TYPE_MASK),
            (jeq_k, 0, 1, SOCK_STREAM),
            (ret_k, 0, 0, SECCOMP_RET_ALLOW),
            (ret_k, 0, 0, deny),
        ]
    filters = (_SockFilter * len(program))(*(_SockFilter(*step) for step in program))
    prog = _SockFprog(len=len(program), filter=filters)
    return int(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0)) == 0
