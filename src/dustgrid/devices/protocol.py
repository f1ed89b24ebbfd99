"""What the device registry shares with the HJ 212 codec: the limits of a device's MN and PW.

Pure constants (no import beyond the standard library): the registry (``devices.models``,
``devices.schemas``) and the codec (``ingest.hj212.codes``, which re-exports them) apply the
same rule, and the registry does not depend on the listener.
"""

from __future__ import annotations

from typing import Final

#: PW (access password): the standard says 6 characters, field devices send up to 24 and more.
#: One limit for the device API (devices/schemas.py), the listener and the reply builder: the
#: width of ``device.password``. A PW may be empty (a device registered without one).
MAX_PW_LEN: Final = 64
MAX_MN_LEN: Final = 24
#: PW and MN are printable ASCII without ``;`` (the field separator) and ``&`` (the CP
#: delimiter): what the decoder accepts, the builder can send back unchanged.
HEADER_TEXT_FORBIDDEN: Final = ";&"
#: The same rule as a regex character class (ASCII input: 0x20-0x7E minus the forbidden).
HEADER_TEXT_CLASS: Final = r"[ -%'-:<-~]"
