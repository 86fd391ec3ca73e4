"""The one exception type a user can cause.

Every error that bad input can produce is a `ScalingError` whose message names the bad value and what is
accepted. The CLI turns it into one line on stderr and exit status 2.
"""

from __future__ import annotations


class ScalingError(ValueError):
    """Bad input: the message names the offending value and what would be accepted."""
