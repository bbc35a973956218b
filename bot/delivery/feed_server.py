"""``GET /feeds/<id>/<token>``: the Atom feeds, on Paperboy's own HTTP server (`bot.runtime.health`'s routes).

A wrong or revoked token is a plain 404, like an unknown path, and nothing logged here names the
token: whoever reads the log must not be able to read the feeds. Readers poll, so each answer
carries an ETag and a repeated request with it (If-None-Match) is a bodiless 304.
"""

from __future__ import annotations

import hashlib
import logging

from aiohttp import web

from bot.commands.feeds import FEEDS_PATH, Feeds
from bot.ports.store_errors import StorageLost, StorageUnavailable

log = logging.getLogger(__name__)

ATOM = "application/atom+xml"
CACHE_CONTROL = "private, max-age=300"
"""Readers may keep a feed five minutes; it is private, as its URL is the only key to it."""


class FeedServer:
    """The feeds' route, reading through `Feeds.render`."""

    def __init__(self, feeds: Feeds) -> None:
        self.feeds = feeds

    def routes(self) -> list[web.RouteDef]:
        return [web.get(FEEDS_PATH + r"/{feed_id}/{token}", self.serve)]

    async def serve(self, request: web.Request) -> web.StreamResponse:
        feed_id = request.match_info["feed_id"]
        try:
            body = await self.feeds.render(feed_id, request.match_info["token"])
        except (StorageUnavailable, StorageLost) as error:
            log.warning("feed %s: the database does not answer (%s)", feed_id[:20], error)
            return web.Response(status=503, text="Paperboy cannot read its database right now; try again later.",
                                headers={"Retry-After": "60"})
        if body is None:
            log.debug("feed %s: a wrong or revoked token", feed_id[:20])
            return web.Response(status=404, text="No such feed: its URL may have been replaced ('feed reset').")
        etag = hashlib.sha256(body).hexdigest()[:32]
        if any(tag.value in (etag, "*") for tag in request.if_none_match or ()):
            response = web.Response(status=304)
        else:
            response = web.Response(body=body, content_type=ATOM, charset="utf-8")
        response.etag = etag
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response
