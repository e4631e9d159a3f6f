"""Process supervision for `eaf up`: the servers EAF starts and stops itself."""

from eaf.runtime.embedded import (
    DataDirInUseError,
    DataDirLock,
    EmbeddedNats,
    EmbeddedPostgres,
    EmbeddedServerError,
    free_port,
    wait_for_exit,
)

__all__ = [
    "DataDirInUseError",
    "DataDirLock",
    "EmbeddedNats",
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "free_port",
    "wait_for_exit",
]
