"""The MQTT topic scheme (pure).

``{prefix}/devices/{mn}/readings`` - JSON readings of device ``mn``;
``{prefix}/devices/{mn}/hj212`` - one raw HJ 212 frame of device ``mn``.

``prefix`` is ``DUSTGRID_MQTT_TOPIC_PREFIX`` (default ``dustgrid/v1``; the version is in
the prefix so a future payload format can live beside this one).
"""

from __future__ import annotations

from typing import Final, NamedTuple

CHANNEL_READINGS: Final = "readings"
CHANNEL_HJ212: Final = "hj212"
CHANNELS: Final = (CHANNEL_READINGS, CHANNEL_HJ212)
MAX_MN_LEN: Final = 24


class Topic(NamedTuple):
    mn: str
    channel: str


def subscriptions(prefix: str) -> list[str]:
    """The filters the subscriber subscribes to (one per channel)."""
    return [f"{prefix}/devices/+/{channel}" for channel in CHANNELS]


def topic_for(prefix: str, mn: str, channel: str) -> str:
    return f"{prefix}/devices/{mn}/{channel}"


def parse_topic(prefix: str, topic: str) -> Topic | None:
    """``Topic(mn, channel)`` of a topic of the scheme, None otherwise."""
    head = f"{prefix}/devices/"
    if not topic.startswith(head):
        return None
    mn, slash, channel = topic[len(head) :].partition("/")
    if not slash or not mn or len(mn) > MAX_MN_LEN or channel not in CHANNELS:
        return None
    return Topic(mn, channel)
