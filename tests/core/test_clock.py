"""The service's clock gives aware UTC datetimes: records compare and serialise alike
wherever the server runs."""

from __future__ import annotations

import time
from datetime import UTC, timedelta

from ragsvc.core.clock import now


def test_now_is_an_aware_utc_datetime_of_the_present():
    moment = now()
    assert moment.tzinfo is UTC and moment.utcoffset() == timedelta(0)
    assert abs(moment.timestamp() - time.time()) < 5
    assert moment.isoformat().endswith("+00:00")
