"""Which fields of Apple's files are about the person or their devices, never the music: never stored.

Apple's Play Activity names its columns differently by vintage ("Apple Id Number" in 2018,
"Apple ID Number" since 2022) and adds columns over time (the IP geolocation block arrived in 2022),
so the test is by pattern over the header, not a fixed list: an unknown future "IP Something" column
is dropped too.
"""

from __future__ import annotations

import re
from functools import cache

# Account and device identifiers, network addresses and anything locating the person.
PRIVATE = re.compile(
    r"""^(
        apple\s*id(\s*number)?            # the account number
      | .*\bip\b.*                        # Client IP Address, IP City, IP Latitude, IP Network, ...
      | .*ip\s*address.*
      | .*device\s*identifier.*           # the device's id
      | metrics\s*client\s*id             # a per-device analytics id
      | house\s*id                        # the household (Family Sharing) id
      | radio\s*user\s*id
      | referral\s*id                     # a tracking token (base64 of uuids)
      | .*(latitude|longitude|postal|zip\s*code|e-?mail|city).*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)


@cache  # asked for every field of every row: a file has a few dozen names
def is_private(field: str) -> bool:
    return bool(PRIVATE.match(field.strip()))
