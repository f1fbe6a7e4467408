"""Files written whole or not at all: a crash, a full disk or Ctrl-C never leaves half of one."""

import errno
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_file(path: str | Path, mode: str = "wb", **open_args: Any) -> Iterator[IO]:
    """Open a temporary file beside `path`; when the block succeeds, it replaces `path` whole.

    On any error `path` is left as it was. A replaced file keeps its mode; a new one, the umask's.
    """
    path = Path(path)
    file = open_beside(path, mode, **open_args)
    try:
        yield file
    except BaseException:
        discard(file)
        raise
    replace_with(file, path)


def open_beside(path: Path, mode: str = "wb", **open_args: Any) -> IO:
    """A new temporary file in `path`'s folder, for `replace_with` to put in its place."""
    remove_abandoned(path.parent, path.name)
    prefix = f".{path.name}.{owner()}."
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    os.close(handle)
    try:
        os.chmod(temp_name, file_mode(path))
        return open(temp_name, mode, **open_args)  # noqa: SIM115 (the caller closes it)
    except BaseException:
        os.unlink(temp_name)
        raise


def replace_with(file: IO, path: Path) -> None:
    """Sync the finished temporary `file` to disk and rename it over `path`, or delete it."""
    # Synced before the rename: otherwise a power cut could leave a renamed but empty file.
    try:
        with file:
            file.flush()
            os.fsync(file.fileno())
        os.replace(file.name, path)
    except BaseException:
        discard(file)
        raise


def discard(file: IO) -> None:
    """Close and delete a temporary file that will not replace anything."""
    # On a full disk, closing fails too, flushing what is left in the buffer: delete anyway.
    with suppress(OSError):
        file.close()
    with suppress(FileNotFoundError):
        os.unlink(file.name)


def file_mode(path: Path) -> int:
    """The permission bits `path` has now, or those a newly created file would get."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def link_or_copy(source: Path, path: Path) -> None:
    """Make `path` a second name for the file at `source`, replacing `path` whole.

    Where the file system has no hard links, `path` gets a copy instead.
    """
    # Files here are replaced, never rewritten in place, so two names can share one file safely.
    if path.exists() and path.samefile(source):
        return  # renaming a link over its own file would do nothing and leave the link behind
    temp_name = path.with_name(f".{path.name}.{owner()}.link.tmp")
    with suppress(FileNotFoundError):
        os.unlink(temp_name)
    try:
        os.link(source, temp_name)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise
        with atomic_file(path) as file, open(source, "rb") as original:
            shutil.copyfileobj(original, file)
        return
    os.replace(temp_name, path)


# A temporary file's name says who writes it: .<name>.<host>-<pid>.<random>.tmp
TEMPORARY_NAME = re.compile(r"\..+\.(?P<host>[^.]+)-(?P<pid>\d+)\.\w+\.tmp")


def owner() -> str:
    """This process, as a temporary file's name records it: host name and process id."""
    host = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"
    return f"{host}-{os.getpid()}"


def remove_abandoned(folder: str | Path, name: str = "") -> None:
    """Delete the temporary files that a process of this host left as it died, under `folder`.

    Given a name, only those for a file of that name in `folder` itself.
    """
    # Those of a process still running, or of another host sharing the disk, are its own.
    host = owner().rsplit("-", 1)[0]
    found = Path(folder).glob(f".{name}.*.tmp") if name else Path(folder).rglob(".*.tmp")
    for path in found:
        match = TEMPORARY_NAME.fullmatch(path.name)
        if match and match["host"] == host and not running(int(match["pid"])):
            with suppress(FileNotFoundError):
                path.unlink()


def running(pid: int) -> bool:
    """Whether a process with this id runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True
