"""The "pg.server" source: what the server is and what perftop may see there.

It asks the server nothing itself: the statements and activity collectors learn the
`ServerInfo` when they connect, and this collector publishes the newest one so a pane can
name the server and the pg_stat_statements version, and can tell a missing extension from a
missing privilege even while the statements read is failing.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..base import CollectorError
from .activity import ActivityCollector
from .samples import ServerInfo
from .statements import StatementsCollector


class ServerCollector:
    """Publishes the `ServerInfo` the other PostgreSQL collectors found."""

    source = "pg.server"

    def __init__(
        self, statements: StatementsCollector, activity: ActivityCollector, interval: float = 2.0
    ) -> None:
        self.statements = statements
        self.activity = activity
        self.interval = interval

    async def collect(self) -> ServerInfo:
        info = self.statements.info or self.activity.link.info
        if info is None:
            raise CollectorError(f"not connected to {self.activity.link.target.display} yet")
        return info

    def series(self, sample: object) -> Mapping[str, float]:
        return {}
